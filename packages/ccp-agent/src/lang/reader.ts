/**
 * The reader of the datapath program language: source text → S-expressions with positions.
 *
 * The language is portus's (ccp-project/portus, `lang/`): parenthesised lists of atoms, separated by
 * whitespace. There are no comments and no strings. Every node keeps the 1-based line and column of its
 * first character so that later errors can point at it.
 * @module
 */
import { ProgramError } from '../errors.js'

/** A position in the source, 1-based. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** An atom: a number, `+infinity`, `true`/`false`, an operator symbol or a name. */
export interface AtomNode extends Position {
  readonly kind: 'atom'
  readonly text: string
}

/** A parenthesised list. */
export interface ListNode extends Position {
  readonly kind: 'list'
  readonly items: readonly SyntaxNode[]
}

/** One node of the S-expression tree. */
export type SyntaxNode = AtomNode | ListNode

function isSpace(code: number): boolean {
  // space, tab, LF, VT, FF, CR
  return code === 0x20 || (code >= 0x09 && code <= 0x0d)
}

const OPEN = 0x28
const CLOSE = 0x29

/**
 * Read every top-level S-expression of `source`. Throws a {@link ProgramError} `ERR_PROGRAM_SYNTAX` on an
 * unbalanced parenthesis or an empty list.
 */
export function readSource(source: string): SyntaxNode[] {
  const top: SyntaxNode[] = []
  // Open lists, innermost last: the items collected so far and where the list started.
  const stack: { items: SyntaxNode[]; line: number; column: number }[] = []
  let line = 1
  let lineStart = 0
  let i = 0
  const push = (node: SyntaxNode): void => {
    const open = stack[stack.length - 1]
    if (open) open.items.push(node)
    else top.push(node)
  }
  while (i < source.length) {
    const code = source.charCodeAt(i)
    if (code === 0x0a) {
      i++
      line++
      lineStart = i
      continue
    }
    if (isSpace(code)) {
      i++
      continue
    }
    const column = i - lineStart + 1
    if (code === OPEN) {
      stack.push({ items: [], line, column })
      i++
      continue
    }
    if (code === CLOSE) {
      const open = stack.pop()
      if (!open) throw new ProgramError('ERR_PROGRAM_SYNTAX', "unexpected ')'", line, column)
      if (open.items.length === 0) throw new ProgramError('ERR_PROGRAM_SYNTAX', 'empty list ()', open.line, open.column)
      push({ kind: 'list', items: open.items, line: open.line, column: open.column })
      i++
      continue
    }
    const start = i
    while (i < source.length) {
      const c = source.charCodeAt(i)
      if (isSpace(c) || c === OPEN || c === CLOSE) break
      i++
    }
    push({ kind: 'atom', text: source.slice(start, i), line, column })
  }
  const unclosed = stack.pop()
  if (unclosed) throw new ProgramError('ERR_PROGRAM_SYNTAX', "'(' is never closed", unclosed.line, unclosed.column)
  return top
}
