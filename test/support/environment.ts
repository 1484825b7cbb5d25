// What an environment-dependent suite needs (root, command-line tools, the native addon), and the reason it
// is skipped when something is missing. CI (CI set) never skips: there a missing tool is a failure.
import { spawnSync } from 'node:child_process'

/** Whether `tool` is on PATH. */
export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
}

/** What a suite needs. */
export interface Requirements {
  /** Must run as root (network namespaces, AF_PACKET, TAP). */
  root?: boolean
  /** Commands that must be on PATH. */
  tools?: readonly string[]
  /** Whether the native addon loaded, when the suite needs it. */
  native?: boolean
}

/**
 * Why a suite cannot run here, or `undefined` when it can (always `undefined` in CI, so CI never skips).
 *
 * @example
 * ```ts
 * const skip = skipReason({ root: true, tools: ['ip', 'ping'] })
 * describe.skipIf(skip !== undefined)(suiteTitle('pnpm hosts', skip), () => { … })
 * ```
 */
export function skipReason(requirements: Requirements): string | undefined {
  if (process.env.CI !== undefined) return undefined
  const missing: string[] = []
  if (requirements.root === true && process.getuid?.() !== 0) missing.push('root')
  const tools = (requirements.tools ?? []).filter((tool) => !hasTool(tool))
  if (tools.length > 0) missing.push(`${tools.join(', ')} on PATH`)
  if (requirements.native === false) missing.push('the native addon (@mtcp/dpdk-io-native)')
  return missing.length === 0 ? undefined : `needs ${missing.join(' and ')}`
}

/** The suite's title, with the reason it is skipped when it is: the reporter shows why. */
export function suiteTitle(title: string, reason: string | undefined): string {
  return reason === undefined ? title : `${title} [skipped: ${reason}]`
}
