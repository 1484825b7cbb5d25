import { describe, expect, it } from 'vitest'
import { PerfError } from './errors.js'
import { neighbourAddress, PERF_FLAGS, parsePerfArgs, type PerfOptions, USAGE } from './options.js'

const parse = (...argv: string[]): PerfOptions => parsePerfArgs(argv) as PerfOptions

function usageError(argv: string[]): string {
  try {
    parsePerfArgs(argv)
  } catch (error) {
    expect(error).toBeInstanceOf(PerfError)
    expect((error as PerfError).code).toBe('ERR_USAGE')
    return (error as PerfError).message
  }
  throw new Error(`no usage error for ${argv.join(' ')}`)
}

describe('parsePerfArgs', () => {
  it('reads the original command line, with the emulated link as the default network', () => {
    const options = parse('send', '10.0.0.2', '5001', '10')
    expect(options).toMatchObject({ mode: 'send', ip: '10.0.0.2', port: 5001, seconds: 10, io: 'memory', address: '10.0.0.1/24', clock: 'virtual', json: false })
    expect(options.congestionControl).toEqual({ kind: 'native', name: 'cubic' })
    expect(options.link).toEqual({ rate: 100e6, delay: 20_000, jitter: 0, loss: 0.001, reorder: 0, duplicate: 0, corrupt: 0, queuePackets: 1000 })
    expect(parse('wait', '10.0.0.7', '9000', '2.5')).toMatchObject({ mode: 'wait', address: '10.0.0.7/24', seconds: 2.5 })
  })

  it('takes an IPv6 <ip> on the emulated link: our address next to it in its /64, or the one given', () => {
    expect(parse('send', 'fd00::2', '5001', '1')).toMatchObject({ ip: 'fd00::2', family: 6, address: 'fd00::1/64' })
    expect(parse('send', 'fd00:0:0:0::1', '5001', '1')).toMatchObject({ family: 6, address: 'fd00::2/64' })
    expect(parse('send', 'fd00::2', '5001', '1', '--address', 'fd00::9/112')).toMatchObject({ address: 'fd00::9/112' })
    expect(parse('wait', 'fd00::7', '9000', '1')).toMatchObject({ family: 6, address: 'fd00::7/64' })
    expect(parse('send', '10.0.0.2', '5001', '1')).toMatchObject({ family: 4 })
  })

  it('takes IPv6 on the kernel backends too, and an IPv6 --gateway with an IPv6 <ip>; refuses mixed families naming the flag', () => {
    expect(parse('send', 'fd00::2', '5001', '1', '--io', 'af-packet', '--dev', 'eth0', '--address', 'fd00::1/64')).toMatchObject({ family: 6, io: 'af-packet', address: 'fd00::1/64' })
    expect(parse('send', 'fd00::2', '5001', '1', '--gateway', 'fe80::1')).toMatchObject({ gateway: 'fe80::1' })
    expect(usageError(['send', 'fd00::2', '5001', '1', '--io', 'af-packet', '--dev', 'eth0'])).toMatch(/send with --io af-packet needs --address <ip\/prefix>/)
    expect(usageError(['send', 'fd00::2', '5001', '1', '--address', '10.0.0.1/24'])).toMatch(/--address must be an IPv6 address/)
    expect(usageError(['send', 'fd00::2', '5001', '1', '--address', 'fd00::1/129'])).toMatch(/prefix in \[1, 128\]/)
    expect(usageError(['send', 'fd00::2', '5001', '1', '--gateway', '10.0.0.254'])).toMatch(/--gateway must be an IPv6 address \(the family of <ip>\), got "10.0.0.254"/)
    expect(usageError(['send', '10.0.0.2', '5001', '1', '--gateway', 'fe80::1'])).toMatch(/--gateway must be an IPv4 address, got "fe80::1"/)
  })

  it('takes <ip> and <port> in one, IPv6 in brackets (RFC 3986 §3.2.2), and says which argument is wrong', () => {
    expect(parse('send', '[fd00::2]:5201', '3')).toMatchObject({ ip: 'fd00::2', family: 6, port: 5201, seconds: 3 })
    expect(parse('send', '[fd00::2]', '5201', '3')).toMatchObject({ ip: 'fd00::2', port: 5201, seconds: 3 })
    expect(parse('send', '10.0.0.2:5001', '2')).toMatchObject({ ip: '10.0.0.2', family: 4, port: 5001, seconds: 2 })
    expect(parse('serve', '[fd00::1]:8080', '--io', 'af-packet', '--dev', 'eth0')).toMatchObject({ ip: 'fd00::1', port: 8080, address: 'fd00::1/64' })
    // Without brackets, fd00::2:5201 is an IPv6 address whose last group is 5201: '3' is then the port.
    expect(usageError(['send', 'fd00::2:5201', '3'])).toMatch(/missing <secs>/)
    expect(usageError(['send', '[fd00::2]:70000', '3'])).toMatch(/<port> must be an integer in \[1, 65535\], got "70000"/)
    expect(usageError(['send', '[fd00::2]:', '3'])).toMatch(/<ip> must be .*: a port after the colon, got "\[fd00::2\]:"/)
    expect(usageError(['send', '[10.0.0.2]:5001', '3'])).toMatch(/<ip> must be .*: brackets hold an IPv6 address, got "\[10.0.0.2\]:5001"/)
    expect(usageError(['send', 'fd00::zz:5201', '3'])).toMatch(/<ip> must be .*an IPv6 address with a port goes in brackets, got "fd00::zz:5201"/)
    expect(usageError(['send', '[fd00::2]:5201', '3', 'more'])).toMatch(/unexpected argument "more"/)
  })

  it('takes rates, times, probabilities and sizes with their units', () => {
    const options = parse('send', '10.0.0.2', '5001', '10', '--rate', '2.5G', '--delay=500us', '--jitter', '0.1ms', '--loss', '0.5%', '--reorder', '0.01', '--queue', '64', '--sndbuf', '512K', '--rcvbuf', '8M')
    expect(options.link).toMatchObject({ rate: 2.5e9, delay: 500, jitter: 100, loss: 0.005, reorder: 0.01, queuePackets: 64 })
    expect(options.sendBufferSize).toBe(512 * 1024)
    expect(options.receiveBufferSize).toBe(8 << 20)
    expect(parse('send', '10.0.0.2', '1', '1', '--rate', '100e6', '--delay', '0.02s').link).toMatchObject({ rate: 100e6, delay: 20_000 })
  })

  it('reads the congestion control and the CCP agent', () => {
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'reno').congestionControl).toEqual({ kind: 'native', name: 'reno' })
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'ccp:bbr').congestionControl).toEqual({ kind: 'ccp', algorithm: 'bbr', agent: 'embedded', dir: '/tmp/ccp' })
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'ccp:reno', '--ccp-agent', 'external', '--ccp-dir', '/run/ccp').congestionControl).toEqual({ kind: 'ccp', algorithm: 'reno', agent: 'external', dir: '/run/ccp' })
  })

  it('runs the emulated link on the real clock with an external CCP agent (issue 17, 1)', () => {
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'ccp:reno', '--ccp-agent', 'external').clock).toBe('real')
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'ccp:reno', '--ccp-agent', 'external', '--clock', 'real').clock).toBe('real')
    expect(parse('send', '10.0.0.2', '1', '1', '--cc', 'ccp:reno').clock).toBe('virtual')
  })

  it('reads a comma-separated list of controllers to compare, the first being the run\'s', () => {
    const options = parse('send', '10.0.0.2', '1', '1', '--cc', 'reno,cubic,ccp:bbr')
    expect(options.congestionControls).toEqual([
      { kind: 'native', name: 'reno' },
      { kind: 'native', name: 'cubic' },
      { kind: 'ccp', algorithm: 'bbr', agent: 'embedded', dir: '/tmp/ccp' },
    ])
    expect(options.congestionControl).toEqual(options.congestionControls[0])
    expect(parse('send', '10.0.0.2', '1', '1').congestionControls).toEqual([{ kind: 'native', name: 'cubic' }])
  })

  it('reads the Linux backends, with offloads on by default there', () => {
    const options = parse('send', '10.200.0.2', '5001', '3', '--io', 'af-packet', '--dev', 'mtcp-a0', '--address', '10.200.0.1/24', '--mac', '02:00:00:00:00:0a', '--gateway', '10.200.0.254')
    expect(options).toMatchObject({ io: 'af-packet', dev: 'mtcp-a0', address: '10.200.0.1/24', gateway: '10.200.0.254', offloads: true, clock: 'real' })
    expect(Array.from(options.mac!)).toEqual([2, 0, 0, 0, 0, 10])
    expect(parse('wait', '10.200.0.1', '5001', '3', '--io', 'tap', '--dev', 'tap0', '--offloads', 'off').offloads).toBe(false)
  })

  it('reads --io dpdk with its EAL arguments and port, and refuses --eal elsewhere or missing', () => {
    const options = parse('send', '10.0.0.2', '5001', '1', '--io', 'dpdk', '--eal=--no-huge -m 256 --vdev=net_af_xdp0,iface=v1', '--dev', 'net_af_xdp0', '--address', '10.0.0.1/24')
    expect(options.io).toBe('dpdk')
    expect(options.eal).toBe('--no-huge -m 256 --vdev=net_af_xdp0,iface=v1')
    expect(options.dev).toBe('net_af_xdp0')
    expect(usageError(['send', '10.0.0.2', '5001', '1', '--io', 'dpdk', '--address', '10.0.0.1/24'])).toMatch(/--io dpdk needs --eal/)
    expect(usageError(['send', '10.0.0.2', '5001', '1', '--io', 'af-packet', '--dev', 'v1', '--eal=-l 0', '--address', '10.0.0.1/24'])).toMatch(/--eal applies to --io dpdk/)
  })

  it('lets a later flag override an earlier one, and ignores a lone --', () => {
    expect(parse('--', 'send', '10.0.0.2', '5001', '10', '--cc', 'reno', '--cc', 'cubic').congestionControl).toEqual({ kind: 'native', name: 'cubic' })
  })

  it('reads serve: secs optional (until Ctrl-C, but 10 s on the emulated link), --mode, our own address', () => {
    expect(parse('serve', '10.0.0.1', '8080')).toMatchObject({ mode: 'serve', serveMode: 'discard', seconds: 10, address: '10.0.0.1/24', io: 'memory' })
    expect(parse('serve', '10.0.0.1', '8080', '3', '--mode', 'http')).toMatchObject({ serveMode: 'http', seconds: 3 })
    expect(parse('serve', '10.200.0.1', '5201', '--mode', 'iperf3', '--io', 'af-packet', '--dev', 'veth0')).toMatchObject({ serveMode: 'iperf3', seconds: 0, address: '10.200.0.1/24' })
  })

  it('answers help, even next to a mistake', () => {
    expect(parsePerfArgs(['--help'])).toBe('help')
    expect(parsePerfArgs(['send', '-h'])).toBe('help')
    expect(parsePerfArgs(['send', '--bogus', '--help'])).toBe('help')
  })

  it('lists every flag of the table in the usage, and accepts every one of them', () => {
    for (const flag of PERF_FLAGS) expect(USAGE).toContain(flag.synopsis ?? `--${flag.name}`)
    const unknown = usageError(['send', '10.0.0.2', '5001', '1', '--speed', '1G'])
    for (const flag of PERF_FLAGS) expect(unknown).toContain(`--${flag.name}`)
  })

  it.each([
    [['send', '10.0.0.2', '5001'], 'missing <secs>'],
    [['push', '10.0.0.2', '5001', '1'], '<mode> must be wait, send or serve, got "push"'],
    [['send', '10.0.0.256', '5001', '1'], '<ip> must be an IPv4 or IPv6 address, optionally with its port (10.0.0.2:5001, [fd00::2]:5001), got "10.0.0.256"'],
    [['send', '10.0.0.2', '70000', '1'], '<port> must be an integer in [1, 65535], got "70000"'],
    [['send', '10.0.0.2', '5001', '0'], '<secs> must be a number of seconds in [0.001, 86400], got "0"'],
    [['send', '10.0.0.2', '5001', '1', 'more'], 'unexpected argument "more"'],
    [['send', '10.0.0.2', '5001', '1', '--speed', '1G'], 'unknown flag --speed; accepted: --io, --dev'],
    [['send', '10.0.0.2', '5001', '1', '-x'], 'unknown flag -x; flags are spelled --name'],
    [['send', '10.0.0.2', '5001', '1', '--loss', '-1'], "--loss needs a value (for a value starting with '-', write --loss=<value>)"],
    [['send', '10.0.0.2', '5001', '1', '--loss=-1'], '--loss must be a probability in [0, 1], like 0.001 or 0.1%, got "-1"'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'reno,vegas'], '--cc must be reno, cubic or ccp:<algorithm>'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'reno,reno'], '--cc names a controller twice, got "reno,reno"'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'reno,cubic', '--io', 'tap', '--dev', 'tap0', '--address', '10.0.0.1'], '--cc with several controllers (reno,cubic) compares them over the emulated link: it needs --io memory, not --io tap'],
    [['send', '10.0.0.2', '5001', '1', '--io', 'netmap'], '--io must be one of memory, tap, af-packet, dpdk, got "netmap"'],
    [['send', '10.0.0.2', '5001', '1', '--rate', 'fast'], '--rate must be a rate in bit/s in [1000, 1e12], like 100M, 1G or 2.5e9, got "fast"'],
    [['send', '10.0.0.2', '5001', '1', '--rate', '10'], '--rate must be a rate in bit/s in [1000, 1e12]'],
    [['send', '10.0.0.2', '5001', '1', '--delay', '20 ms'], '--delay must be a time in [0, 10s]'],
    [['send', '10.0.0.2', '5001', '1', '--loss', '150%'], '--loss must be a probability in [0, 1], like 0.001 or 0.1%, got "150%"'],
    [['send', '10.0.0.2', '5001', '1', '--jitter', '30ms'], '--jitter must not exceed --delay (20 ms)'],
    [['send', '10.0.0.2', '5001', '1', '--queue', '0'], '--queue must be an integer in [1, 1000000], got "0"'],
    [['send', '10.0.0.2', '5001', '1', '--sndbuf', '1'], '--sndbuf must be a size in bytes in [4096, 1073741824]'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'vegas'], '--cc must be reno, cubic or ccp:<algorithm>'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:'], '--cc must be reno, cubic or ccp:<algorithm>'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:vegas'], "--cc ccp:vegas: unknown CCP algorithm 'vegas'; known: ccp:reno, ccp:cubic, ccp:bbr"],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:reno', '--ccp-agent', 'external', '--clock', 'virtual'], '--clock virtual cannot drive --ccp-agent external'],
    [['send', '10.0.0.2', '5001', '1', '--ccp-agent', 'external'], '--ccp-agent and --ccp-dir apply to --cc ccp:<algorithm>, not --cc cubic'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:reno', '--ccp-agent', 'remote'], '--ccp-agent must be one of embedded, external, got "remote"'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:reno', '--ccp-dir', '/x'], '--ccp-dir applies to --ccp-agent external'],
    [['send', '10.0.0.2', '5001', '1', '--mac', '01:00:5e:00:00:01'], '--mac must be a unicast MAC address'],
    [['send', '10.0.0.2', '5001', '1', '--mac', 'zz'], '--mac must be a MAC address like 02:00:00:00:00:01, got "zz"'],
    [['send', '10.0.0.2', '5001', '1', '--address', '10.0.0.1/33'], '--address must be an IPv4 address with an optional prefix length'],
    [['send', '10.0.0.2', '5001', '1', '--address', '10.0.0.2'], "--address 10.0.0.2/24 is the peer's <ip>"],
    [['wait', '10.0.0.1', '5001', '1', '--address', '10.0.0.9/24'], 'wait listens on our own address'],
    [['send', '10.0.0.2', '5001', '1', '--dev', 'eth0'], '--dev applies to --io tap and --io af-packet'],
    [['send', '10.0.0.2', '5001', '1', '--io', 'tap'], '--io tap needs --dev <name>: the TAP device to own'],
    [['send', '10.0.0.2', '5001', '1', '--io', 'af-packet', '--dev', 'eth0'], 'send with --io af-packet needs --address <ip/prefix>'],
    [['send', '10.0.0.2', '5001', '1', '--io', 'af-packet', '--dev', 'eth0', '--address', '10.0.0.1', '--loss', '0.1'], '--loss applies to --io memory only (the emulated link), not --io af-packet'],
    [['send', '10.0.0.2', '5001', '1', '--clock', 'fast'], '--clock must be one of virtual, real, got "fast"'],
    [['send', '10.0.0.2', '5001', '1', '--json=1'], '--json takes no value'],
    [['send', '10.0.0.2', '5001', '1', '--report'], '--report needs a value'],
    [['wait', '10.0.0.1', '5001', '1', '--protocol', 'iperf3'], '--protocol applies to send only, not wait'],
    [['send', '10.0.0.2', '5001', '1', '--protocol', 'iperf2'], '--protocol must be one of perf, iperf3, got "iperf2"'],
    [['send', '10.0.0.2', '5001', '1', '--mode', 'echo'], '--mode applies to serve only (what each connection gets), not send'],
    [['serve', '10.0.0.1', '80', '--mode', 'gopher'], '--mode must be one of discard, echo, http, iperf3, got "gopher"'],
    [['serve', '10.0.0.1', '5201', '--mode', 'iperf3'], '--mode iperf3 serves a stock iperf3 client on a real link: use --io tap or --io af-packet'],
    [['serve', '10.0.0.1', '80', '--address', '10.0.0.9/24'], 'serve listens on our own address'],
    [['send', '10.0.0.2', '5001', '1', '--interval', '0'], '--interval must be a number of seconds in [0.1, 3600], got "0"'],
  ])('%j is a usage error naming the problem', (argv, message) => {
    const text = usageError(argv)
    expect(text).toContain(message)
    expect(text).not.toContain('usage:')
    expect(text).not.toContain('\n')
  })
})

describe('neighbourAddress', () => {
  it('gives the other end of a /24 link', () => {
    expect(neighbourAddress('10.0.0.2')).toBe('10.0.0.1')
    expect(neighbourAddress('10.0.0.1')).toBe('10.0.0.2')
    expect(neighbourAddress('192.168.5.77')).toBe('192.168.5.1')
  })

  it('gives the other end of an IPv6 link in its /64, as RFC 5952 text', () => {
    expect(neighbourAddress('fd00::2')).toBe('fd00::1')
    expect(neighbourAddress('FD00:0::1')).toBe('fd00::2')
    expect(neighbourAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2:3:4:5:1')
  })
})
