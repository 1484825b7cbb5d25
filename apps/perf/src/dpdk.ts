/**
 * `--io dpdk`: the perf sender on a DPDK port (`openDpdkPort` of `@mtcp/dpdk-io`), its EAL arguments
 * from `--eal` and the port from `--dev` (a device name such as `net_af_xdp0` or `0000:01:00.0`, or an id).
 * @module
 */
import { type Clock, openDpdkPort, type Port } from '@mtcp/dpdk-io'
import { PerfError } from './errors.js'

/** Check `--eal` against `--io`: required with dpdk (the EAL needs at least a device or `--no-pci`), refused otherwise. */
export function checkEal(io: string, eal: string | undefined): string | undefined {
  if (io !== 'dpdk') {
    if (eal !== undefined) throw new PerfError('ERR_USAGE', `mtcp-perf: --eal applies to --io dpdk, not --io ${io}`)
    return undefined
  }
  if (eal === undefined || eal.trim().length === 0) {
    throw new PerfError('ERR_USAGE', "mtcp-perf: --io dpdk needs --eal='<args>': DPDK's EAL arguments (after '=', since they start with '-'), e.g. '--no-huge -m 256 --no-pci -l 0 --vdev=net_af_xdp0,iface=veth1'")
  }
  return eal
}

/** Open the DPDK port of a perf run: `dev` as an id when it is all digits, else as a device name. */
export async function openPerfDpdkPort(
  options: { dev: string | undefined; eal: string | undefined },
  portOptions: { clock: Clock; offloads: boolean; mac?: Uint8Array },
): Promise<Port> {
  const dev = options.dev ?? '0'
  return openDpdkPort({ eal: options.eal!, port: /^\d+$/.test(dev) ? Number(dev) : dev, ...portOptions })
}
