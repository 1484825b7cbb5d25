/**
 * The compiler of the datapath program language: source → type-checked instruction list, with portus's
 * register allocation and instruction order, so that the bytes are portus 0.8's (ccp-vectors/programs.json).
 *
 * The rules, read off portus's output for the seven vector programs:
 * - Definitions. `(def (Report (volatile a 0) (b 0)) (c 0) (volatile d 0))`: report fields get indices
 *   0, 1, … in declaration order, volatile and non-volatile sharing one counter (type 5 volatile, 6 not);
 *   control variables likewise share one counter (type 8 volatile, 0 not). A MEASURE carries the report
 *   fields in index order.
 * - The instruction list starts with one DEF per variable (`DEF r r imm`), sorted by full name
 *   (`Report.x` or `x`) in byte order, whatever the declaration order.
 * - Then, per `(when COND BODY…)`, the condition's instructions then the body's; the expression table
 *   records the two ranges (start, length).
 * - Temporaries are numbered from 0 again at each statement (the condition, each `:=`): an operator's
 *   operands are compiled left then right, then the operator takes the next temporary.
 * - A condition's outermost operator writes `__eventFlag` directly; an atom condition (`true`) is
 *   `BIND __eventFlag __eventFlag atom`.
 * - `(:= x e)` is `BIND x x r` where r is e's register (an atom, or the temporary of its last operator);
 *   `ewma`, `if` and `!if` read their result register, so they must be the whole right-hand side and write
 *   `x` directly (no BIND).
 * - `(report)` and `(fallthrough)` are `BIND __shouldReport __shouldReport 1` and
 *   `BIND __shouldContinue __shouldContinue 1`. There is no NOT/AND/OR: `&&` is MUL, `||` is ADD.
 * @module
 */
import { ProgramError } from '../errors.js'
import { Implicit, Opcode, RegType, type Expression, type Instruction } from '@mtcp/libccp'
import {
  INFINITY_IMMEDIATE,
  MAX_CONTROL_VARIABLES,
  MAX_PROGRAM_EXPRESSIONS,
  MAX_PROGRAM_INSTRUCTIONS,
  MAX_REPORT_FIELDS,
  MAX_TEMPORARIES,
  NAMED_IMPLICITS,
  PRIMITIVES,
  type ValueType,
} from './isa.js'
import { readSource, type AtomNode, type ListNode, type Position, type SyntaxNode } from './reader.js'

/** A variable defined in `def`. */
export interface VariableInfo {
  /** The name a program uses: `Report.x` for a report field, `x` for a control variable. */
  readonly name: string
  /** A report field (sent in MEASURE) or a control variable (set by the agent). */
  readonly kind: 'report' | 'control'
  /** Reset to its initial value after each report (report fields) or each program change. */
  readonly volatile: boolean
  /** The register type on the wire (5 or 6 for report fields, 8 or 0 for control variables). */
  readonly registerType: RegType
  /** The register index (declaration order within its kind). */
  readonly index: number
  /** The initial value (the DEF immediate: `+infinity` is 0xFFFFFFFF, `true` 1). */
  readonly initial: number
  /** `num` or `bool`. */
  readonly type: ValueType
}

/** What {@link compileSource} produces. */
export interface CompiledCode {
  readonly instructions: readonly Instruction[]
  readonly expressions: readonly Expression[]
  /** Every defined variable, in declaration order. */
  readonly variables: readonly VariableInfo[]
  /** The report fields' short names (`acked` for `Report.acked`) in MEASURE order. */
  readonly reportFields: readonly string[]
}

/** A compiled operand: a register type and index, and its value type. */
interface Operand {
  readonly type: RegType
  readonly index: number
  readonly valueType: ValueType
}

interface OperatorInfo {
  readonly opcode: Opcode
  /** The operands' type, or for `if`/`!if` the condition's type (the value may be either). */
  readonly operands: ValueType
  /** The result's type; `value` means the type of the right operand (`if`, `!if`). */
  readonly result: ValueType | 'value'
  /** Reads its result register, so it must write the assigned variable directly. */
  readonly stateful: boolean
}

const OPERATORS: ReadonlyMap<string, OperatorInfo> = new Map<string, OperatorInfo>([
  ['+', { opcode: Opcode.Add, operands: 'num', result: 'num', stateful: false }],
  ['-', { opcode: Opcode.Sub, operands: 'num', result: 'num', stateful: false }],
  ['*', { opcode: Opcode.Mul, operands: 'num', result: 'num', stateful: false }],
  ['/', { opcode: Opcode.Div, operands: 'num', result: 'num', stateful: false }],
  ['==', { opcode: Opcode.Equiv, operands: 'num', result: 'bool', stateful: false }],
  ['>', { opcode: Opcode.Gt, operands: 'num', result: 'bool', stateful: false }],
  ['<', { opcode: Opcode.Lt, operands: 'num', result: 'bool', stateful: false }],
  // No boolean opcodes in the datapath: portus multiplies for && and adds for || (ccp-datapath.md, "Opcodes").
  ['&&', { opcode: Opcode.Mul, operands: 'bool', result: 'bool', stateful: false }],
  ['||', { opcode: Opcode.Add, operands: 'bool', result: 'bool', stateful: false }],
  ['max', { opcode: Opcode.Max, operands: 'num', result: 'num', stateful: false }],
  ['min', { opcode: Opcode.Min, operands: 'num', result: 'num', stateful: false }],
  ['wrapped_max', { opcode: Opcode.MaxWrap, operands: 'num', result: 'num', stateful: false }],
  ['ewma', { opcode: Opcode.Ewma, operands: 'num', result: 'num', stateful: true }],
  ['if', { opcode: Opcode.If, operands: 'bool', result: 'value', stateful: true }],
  ['!if', { opcode: Opcode.NotIf, operands: 'bool', result: 'value', stateful: true }],
])

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Short names a definition may not take. */
// `__proto__` too: report fields become properties of the report objects an algorithm reads.
const RESERVED = new Set(['Report', 'Micros', 'Cwnd', 'Rate', 'true', 'false', 'volatile', 'def', 'when', '__proto__'])
const NUMBER_LIMIT = 2 ** 31

const EVENT_FLAG: Operand = { type: RegType.Implicit, index: Implicit.EventFlag, valueType: 'bool' }
const SHOULD_CONTINUE: Operand = { type: RegType.Implicit, index: Implicit.ShouldContinue, valueType: 'bool' }
const SHOULD_REPORT: Operand = { type: RegType.Implicit, index: Implicit.ShouldReport, valueType: 'bool' }
const ONE: Operand = { type: RegType.Immediate, index: 1, valueType: 'bool' }

function fail(code: ProgramError['code'], reason: string, at: Position): never {
  throw new ProgramError(code, reason, at.line, at.column)
}

function describe(node: SyntaxNode): string {
  return node.kind === 'atom' ? `'${node.text}'` : 'a list'
}

/** A literal's immediate value and type, `undefined` if the atom is not a literal; throws on a bad number. */
function literal(node: AtomNode): Operand | undefined {
  const text = node.text
  if (text === 'true') return { type: RegType.Immediate, index: 1, valueType: 'bool' }
  if (text === 'false') return { type: RegType.Immediate, index: 0, valueType: 'bool' }
  if (text === '+infinity') return { type: RegType.Immediate, index: INFINITY_IMMEDIATE, valueType: 'num' }
  if (/^[+-]?[0-9]/.test(text)) {
    if (!/^[0-9]+$/.test(text)) fail('ERR_PROGRAM_NUMBER', `'${text}' is not a number: use decimal digits, or +infinity`, node)
    const value = Number(text)
    if (value >= NUMBER_LIMIT) fail('ERR_PROGRAM_NUMBER', `${text} is too large: numbers must be below 2^31 (or +infinity)`, node)
    return { type: RegType.Immediate, index: value, valueType: 'num' }
  }
  return undefined
}

function instruction(opcode: Opcode, result: Operand, left: Operand, right: Operand): Instruction {
  return {
    opcode,
    resType: result.type,
    resIndex: result.index,
    leftType: left.type,
    left: left.index,
    rightType: right.type,
    right: right.index,
  }
}

/** Byte-order comparison of ASCII names (portus sorts its definitions by name). */
function byName(a: VariableInfo, b: VariableInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

class Compiler {
  readonly variables: VariableInfo[] = []
  readonly #byName = new Map<string, VariableInfo>()
  readonly instructions: Instruction[] = []
  readonly expressions: Expression[] = []
  #reportCount = 0
  #controlCount = 0
  #temporaries = 0

  // ---- definitions ----

  define(form: ListNode): void {
    for (const item of form.items.slice(1)) {
      if (item.kind !== 'list') fail('ERR_PROGRAM_STRUCTURE', `expected a definition like (name value), got ${describe(item)}`, item)
      const head = item.items[0]!
      if (head.kind === 'atom' && head.text === 'Report') {
        for (const field of item.items.slice(1)) {
          if (field.kind !== 'list') fail('ERR_PROGRAM_STRUCTURE', `expected a report field like (name value), got ${describe(field)}`, field)
          this.#defineVariable(field, 'report')
        }
      } else {
        this.#defineVariable(item, 'control')
      }
    }
  }

  #defineVariable(item: ListNode, kind: 'report' | 'control'): void {
    let parts = item.items
    let isVolatile = false
    const first = parts[0]!
    if (first.kind === 'atom' && first.text === 'volatile') {
      isVolatile = true
      parts = parts.slice(1)
    }
    if (parts.length !== 2) {
      fail('ERR_PROGRAM_ARITY', `a definition is (name value) or (volatile name value), got ${item.items.length} items`, item)
    }
    const [nameNode, valueNode] = parts as [SyntaxNode, SyntaxNode]
    if (nameNode.kind !== 'atom' || !IDENTIFIER.test(nameNode.text)) {
      fail('ERR_PROGRAM_STRUCTURE', `expected a variable name (letters, digits, _), got ${describe(nameNode)}`, nameNode)
    }
    if (RESERVED.has(nameNode.text)) fail('ERR_PROGRAM_DUPLICATE', `'${nameNode.text}' is reserved and cannot be defined`, nameNode)
    const name = kind === 'report' ? `Report.${nameNode.text}` : nameNode.text
    if (this.#byName.has(name)) fail('ERR_PROGRAM_DUPLICATE', `'${name}' is defined twice`, nameNode)
    const initial = valueNode.kind === 'atom' ? literal(valueNode) : undefined
    if (!initial) fail('ERR_PROGRAM_STRUCTURE', `an initial value must be a number, +infinity, true or false, got ${describe(valueNode)}`, valueNode)
    const index = kind === 'report' ? this.#reportCount++ : this.#controlCount++
    const registerType =
      kind === 'report'
        ? isVolatile
          ? RegType.VolatileReport
          : RegType.NonVolatileReport
        : isVolatile
          ? RegType.VolatileControl
          : RegType.NonVolatileControl
    const variable: VariableInfo = {
      name,
      kind,
      volatile: isVolatile,
      registerType,
      index,
      initial: initial.index,
      type: initial.valueType,
    }
    if (kind === 'report' && this.#reportCount > MAX_REPORT_FIELDS) {
      fail('ERR_PROGRAM_LIMIT', `too many report fields: the datapath has ${MAX_REPORT_FIELDS} report registers`, nameNode)
    }
    if (kind === 'control' && this.#controlCount > MAX_CONTROL_VARIABLES) {
      fail('ERR_PROGRAM_LIMIT', `too many control variables: the datapath has ${MAX_CONTROL_VARIABLES} control registers`, nameNode)
    }
    this.variables.push(variable)
    this.#byName.set(name, variable)
  }

  emitDefinitions(): void {
    for (const variable of [...this.variables].sort(byName)) {
      const register: Operand = { type: variable.registerType, index: variable.index, valueType: variable.type }
      const value: Operand = { type: RegType.Immediate, index: variable.initial, valueType: variable.type }
      this.instructions.push(instruction(Opcode.Def, register, register, value))
    }
  }

  // ---- names ----

  /** The register an atom names or holds; throws on an unknown name. */
  #resolve(node: AtomNode): Operand {
    const constant = literal(node)
    if (constant) return constant
    const text = node.text
    const primitive = PRIMITIVES.get(text)
    if (primitive) return { type: RegType.Primitive, index: primitive.index, valueType: primitive.type }
    const implicit = NAMED_IMPLICITS.get(text)
    if (implicit !== undefined) return { type: RegType.Implicit, index: implicit, valueType: 'num' }
    const variable = this.#byName.get(text)
    if (variable) return { type: variable.registerType, index: variable.index, valueType: variable.type }
    if (text.startsWith('Ack.') || text.startsWith('Flow.')) {
      fail('ERR_PROGRAM_UNKNOWN_NAME', `'${text}' is not a datapath primitive`, node)
    }
    if (text.startsWith('Report.')) fail('ERR_PROGRAM_UNKNOWN_NAME', `'${text}' is not defined in (def (Report …))`, node)
    if (OPERATORS.has(text)) fail('ERR_PROGRAM_STRUCTURE', `operator '${text}' used as a value`, node)
    fail('ERR_PROGRAM_UNKNOWN_NAME', `'${text}' is not defined`, node)
  }

  #temporary(at: Position): Operand {
    if (this.#temporaries >= MAX_TEMPORARIES) {
      fail('ERR_PROGRAM_LIMIT', `expression too deep: a statement may use at most ${MAX_TEMPORARIES} temporaries`, at)
    }
    return { type: RegType.Tmp, index: this.#temporaries++, valueType: 'num' }
  }

  // ---- expressions ----

  /** The operator of an expression list, with its arity checked. */
  #operator(node: ListNode): OperatorInfo {
    const head = node.items[0]!
    if (head.kind !== 'atom') fail('ERR_PROGRAM_SYNTAX', 'expected an operator, got a list', head)
    const info = OPERATORS.get(head.text)
    if (!info) fail('ERR_PROGRAM_UNKNOWN_OPERATOR', `unknown operator '${head.text}'`, head)
    if (node.items.length !== 3) {
      fail('ERR_PROGRAM_ARITY', `'${head.text}' takes 2 operands, got ${node.items.length - 1}`, head)
    }
    return info
  }

  #expect(operand: Operand, type: ValueType, node: SyntaxNode, what: string): void {
    if (operand.valueType !== type) {
      fail('ERR_PROGRAM_TYPE', `${what} must be a ${type === 'num' ? 'number' : 'boolean'}, got a ${operand.valueType === 'num' ? 'number' : 'boolean'}`, node)
    }
  }

  /** Compile the two operands of an operator list, left first, type-checked. */
  #operands(node: ListNode, info: OperatorInfo): [Operand, Operand] {
    const opName = (node.items[0] as AtomNode).text
    const leftNode = node.items[1]!
    const rightNode = node.items[2]!
    const left = this.#value(leftNode)
    const right = this.#value(rightNode)
    if (info.result === 'value') {
      // if / !if: a boolean condition, a value of any type
      this.#expect(left, 'bool', leftNode, `the condition of '${opName}'`)
    } else {
      this.#expect(left, info.operands, leftNode, `the left operand of '${opName}'`)
      this.#expect(right, info.operands, rightNode, `the right operand of '${opName}'`)
    }
    return [left, right]
  }

  /** Compile a value: an atom's register, or an operator into the next temporary. */
  #value(node: SyntaxNode): Operand {
    if (node.kind === 'atom') return this.#resolve(node)
    const info = this.#operator(node)
    if (info.stateful) {
      fail('ERR_PROGRAM_STATEFUL', `'${(node.items[0] as AtomNode).text}' reads its result register: it must be the whole right-hand side of :=`, node)
    }
    const [left, right] = this.#operands(node, info)
    const result = this.#temporary(node)
    this.instructions.push(instruction(info.opcode, result, left, right))
    return { ...result, valueType: info.result as ValueType }
  }

  // ---- statements ----

  when(form: ListNode): void {
    if (form.items.length < 2) fail('ERR_PROGRAM_ARITY', '(when CONDITION BODY…) needs a condition', form)
    const condStart = this.instructions.length
    this.#condition(form.items[1]!)
    const eventStart = this.instructions.length
    for (const statement of form.items.slice(2)) this.#statement(statement)
    this.expressions.push({
      condStart,
      condLength: eventStart - condStart,
      eventStart,
      eventLength: this.instructions.length - eventStart,
    })
  }

  #condition(node: SyntaxNode): void {
    this.#temporaries = 0
    if (node.kind === 'atom') {
      const value = this.#resolve(node)
      this.#expect(value, 'bool', node, 'a when condition')
      this.instructions.push(instruction(Opcode.Bind, EVENT_FLAG, EVENT_FLAG, value))
      return
    }
    const info = this.#operator(node)
    if (info.stateful) fail('ERR_PROGRAM_STATEFUL', `'${(node.items[0] as AtomNode).text}' cannot be a condition`, node)
    if (info.result !== 'bool') fail('ERR_PROGRAM_TYPE', 'a when condition must be a boolean, got a number', node)
    const [left, right] = this.#operands(node, info)
    // The outermost operator writes the event flag itself.
    this.instructions.push(instruction(info.opcode, EVENT_FLAG, left, right))
  }

  #statement(node: SyntaxNode): void {
    if (node.kind !== 'list') fail('ERR_PROGRAM_STRUCTURE', `expected a statement ((:= …), (report), (fallthrough)), got ${describe(node)}`, node)
    const head = node.items[0]!
    if (head.kind !== 'atom') fail('ERR_PROGRAM_SYNTAX', 'expected a statement, got a list', head)
    switch (head.text) {
      case 'report':
      case 'fallthrough': {
        if (node.items.length !== 1) fail('ERR_PROGRAM_ARITY', `(${head.text}) takes no operands`, head)
        const flag = head.text === 'report' ? SHOULD_REPORT : SHOULD_CONTINUE
        this.instructions.push(instruction(Opcode.Bind, flag, flag, ONE))
        return
      }
      case ':=':
        this.#assign(node)
        return
      default:
        if (OPERATORS.has(head.text)) fail('ERR_PROGRAM_STRUCTURE', `'${head.text}' computes a value: assign it with (:= name …)`, head)
        fail('ERR_PROGRAM_UNKNOWN_OPERATOR', `unknown statement '${head.text}'`, head)
    }
  }

  #assign(node: ListNode): void {
    if (node.items.length !== 3) fail('ERR_PROGRAM_ARITY', `':=' takes a name and a value, got ${node.items.length - 1} operands`, node.items[0]!)
    this.#temporaries = 0
    const targetNode = node.items[1]!
    const valueNode = node.items[2]!
    if (targetNode.kind !== 'atom') fail('ERR_PROGRAM_READ_ONLY', 'cannot assign to an expression', targetNode)
    const target = this.#resolve(targetNode)
    if (target.type === RegType.Primitive || target.type === RegType.Immediate) {
      fail('ERR_PROGRAM_READ_ONLY', `'${targetNode.text}' cannot be assigned`, targetNode)
    }
    if (valueNode.kind === 'list' && OPERATORS.get((valueNode.items[0] as AtomNode).text)?.stateful) {
      const info = this.#operator(valueNode)
      const [left, right] = this.#operands(valueNode, info)
      const resultType = info.result === 'value' ? right.valueType : info.result
      this.#expect({ ...target, valueType: resultType }, target.valueType, valueNode, `the value assigned to '${targetNode.text}'`)
      // ewma / if / !if write the variable directly: they read its old value.
      this.instructions.push(instruction(info.opcode, target, left, right))
      return
    }
    const value = this.#value(valueNode)
    this.#expect(value, target.valueType, valueNode, `the value assigned to '${targetNode.text}'`)
    this.instructions.push(instruction(Opcode.Bind, target, target, value))
  }
}

/**
 * Parse, type-check and compile one datapath program. Throws a {@link ProgramError} with the line and
 * column of the first problem.
 */
export function compileSource(source: string): CompiledCode {
  const forms = readSource(source)
  const compiler = new Compiler()
  let index = 0
  const first = forms[0]
  if (first?.kind === 'list' && first.items[0]?.kind === 'atom' && first.items[0].text === 'def') {
    compiler.define(first)
    index = 1
  }
  compiler.emitDefinitions()
  for (; index < forms.length; index++) {
    const form = forms[index]!
    if (form.kind !== 'list') fail('ERR_PROGRAM_STRUCTURE', `expected (when …), got ${describe(form)}`, form)
    const head = form.items[0]!
    if (head.kind === 'atom' && head.text === 'def') fail('ERR_PROGRAM_STRUCTURE', '(def …) must come first, once', form)
    if (head.kind !== 'atom' || head.text !== 'when') fail('ERR_PROGRAM_STRUCTURE', `expected (when …), got (${head.kind === 'atom' ? head.text : '(…)'} …)`, form)
    compiler.when(form)
  }
  // libccp refuses an INSTALL_EXPR over its limits: better said here, with a position, than dropped there.
  if (compiler.instructions.length > MAX_PROGRAM_INSTRUCTIONS) {
    fail('ERR_PROGRAM_LIMIT', `program too large: ${compiler.instructions.length} instructions, the datapath takes at most ${MAX_PROGRAM_INSTRUCTIONS}`, forms[forms.length - 1]!)
  }
  if (compiler.expressions.length > MAX_PROGRAM_EXPRESSIONS) {
    fail('ERR_PROGRAM_LIMIT', `program too large: ${compiler.expressions.length} when clauses, the datapath takes at most ${MAX_PROGRAM_EXPRESSIONS}`, forms[forms.length - 1]!)
  }
  const reportFields = compiler.variables.filter((v) => v.kind === 'report').map((v) => v.name.slice('Report.'.length))
  return {
    instructions: compiler.instructions,
    expressions: compiler.expressions,
    variables: compiler.variables,
    reportFields,
  }
}
