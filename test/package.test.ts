// The npm package (issue 17): `npm pack`, then `npm install -g` of the tarball
// into a temporary prefix with a PATH that has Node and the system's programs
// but no compiler (no cc, make, python3, clang, node-gyp: a build could not run
// there, so the install succeeding shows none was needed). From the
// installed copy: --version, agent --help, a client command against nothing,
// a lab (lab `pkg`: namespaces vrfwall-pkg-*) whose agent is the installed one
// (the prebuilt addon loads the BPF objects into the kernel), and, from a copy
// whose prebuilt addon was removed, the client commands against that agent
// (they never need the addon) while its agent fails with a clear message.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown } from '../src/lab/lab.js';
import { agentStatusFile, stateFile } from '../src/lab/names.js';
import { ROOT } from './helpers/lab.js';

const LAB = 'pkg';
const INSTANCE = `${LAB}-node1`;
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
/** Programs that would build an addon; none may be reachable from the install's PATH. */
const BUILD_TOOLS = ['cc', 'gcc', 'c++', 'g++', 'clang', 'make', 'python3', 'node-gyp', 'ld'];
/** A machine without a compiler: every program of the system's PATH but these
 *  (C/C++ compilers, binutils, clang/LLVM, make, python: what node-gyp needs). */
const COMPILER_LIKE = /^(cc|c\+\+|c89|c99|cpp|gcc|g\+\+|gcov|clang|llc|llvm|lld|ld|as|make|gmake|cmake|python|pip|node-gyp|bpftool|tcc|[a-z0-9_]+-linux-gnu-)/;
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

const which = (name: string, PATH: string): string | undefined =>
  PATH.split(':').map((d) => path.join(d, name)).find((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

describe('npm package: installs and runs without a compiler', () => {
  let tmp: string;
  let tgz: string;
  let binDir: string; // node and the system's programs but compilers and their kin
  let prefix: string;
  let installed: string; // <prefix>/lib/node_modules/vrfwall
  let broken: string; // a copy of it without the prebuilt addon
  let env: NodeJS.ProcessEnv;

  const run = (cmd: string, args: string[], timeoutMs = 20_000) =>
    spawnSync(cmd, args, { encoding: 'utf8', env, timeout: timeoutMs });
  const vrfwall = (args: string[]) => run('vrfwall', args);
  const fromBroken = (args: string[]) => run('node', [path.join(broken, 'dist/cli/main.js'), ...args]);

  beforeAll(async () => {
    await labDown(LAB); // a killed run's leftovers
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-pkg-'));
    // prepack brings dist/, build/bpf and the prebuilt addon up to date (make package-contents).
    execFileSync('npm', ['pack', '--pack-destination', tmp], { cwd: ROOT, timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    tgz = path.join(tmp, `${PKG.name}-${PKG.version}.tgz`);

    binDir = path.join(tmp, 'bin');
    fs.mkdirSync(binDir);
    fs.symlinkSync(process.execPath, path.join(binDir, 'node')); // this Node, wherever it is
    for (const dir of SYSTEM_PATH) {
      for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const link = path.join(binDir, name);
        if (!COMPILER_LIKE.test(name) && !fs.existsSync(link)) fs.symlinkSync(path.join(dir, name), link);
      }
    }
    prefix = path.join(tmp, 'prefix');
    // The rest of the environment stays (a proxy's CA for the registry, npm's cache).
    env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${binDir}` };
    for (const k of ['CC', 'CXX', 'LD', 'npm_config_nodedir', 'NPM_CONFIG_NODEDIR', 'VRFWALL_ADDON']) delete env[k];
  }, 180_000);

  afterAll(async () => {
    await labDown(LAB);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs dist/, the BPF objects, the proto files and the addon prebuilt for linux-x64 with libbpf inside', () => {
    const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    expect(files).toContain('dist/cli/main.js');
    for (const c of fs.readdirSync(path.join(ROOT, 'bpf')).filter((f) => f.endsWith('.c'))) expect(files).toContain(`build/bpf/${c.replace(/\.c$/, '.o')}`);
    for (const p of fs.readdirSync(path.join(ROOT, 'proto/vrfwall/v1'))) expect(files).toContain(`proto/vrfwall/v1/${p}`);
    // the relay's web UI with its graph library: served from the package, no CDN
    for (const u of ['ui/index.html', 'ui/app.js', 'ui/style.css', 'ui/vendor/cytoscape.min.js', 'ui/vendor/cytoscape.LICENSE']) expect(files).toContain(u);
    const prebuilt = files.filter((f) => /^addon\/prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
    expect(prebuilt).toHaveLength(1);
    // No sources, no tests, nothing npm would compile: no binding.gyp, no install scripts.
    expect(files.filter((f) => /^(src|test|bench|lab)\/|\.(cc|h|c|ts|gyp)$/.test(f))).toEqual([]);
    const manifest = JSON.parse(execFileSync('tar', ['xzOf', tgz, 'package/package.json'], { encoding: 'utf8' })) as {
      scripts?: Record<string, string>;
      private?: boolean;
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?install$/.test(s))).toEqual([]);
    expect(manifest.private).toBeUndefined();
    expect(manifest.dependencies).toHaveProperty('node-gyp-build');
    expect(manifest.dependencies).not.toHaveProperty('node-addon-api'); // headers: build time only

    // The prebuilt addon needs libelf and zlib from the system, not libbpf (ldd reads it: libelf is listed).
    const libs = execFileSync('ldd', [path.join(ROOT, prebuilt[0]!)], { encoding: 'utf8' });
    expect(libs).toMatch(/libelf\.so/);
    expect(libs).toMatch(/libz\.so/);
    expect(libs).not.toMatch(/libbpf/);
  });

  it('installs with npm install -g where no compiler is in PATH', () => {
    for (const t of BUILD_TOOLS) expect(which(t, env.PATH!), `${t} in the install's PATH`).toBeUndefined();
    // The control: this machine has the compilers (make build needs them); only the PATH hides them.
    expect(which('g++', process.env.PATH ?? ''), 'g++ on this machine').toBeDefined();
    const npmCli = fs.realpathSync(which('npm', process.env.PATH ?? '')!);
    const install = run('node', [npmCli, 'install', '-g', tgz, '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--fetch-timeout=20000', '--fetch-retries=1'], 50_000);
    expect(install.status, install.stderr).toBe(0);
    installed = path.join(prefix, 'lib/node_modules', PKG.name);
    expect(fs.existsSync(path.join(installed, 'addon/build')), 'nothing was compiled at install').toBe(false);
    expect(which('vrfwall', env.PATH!)).toBe(path.join(prefix, 'bin/vrfwall'));
    expect(which('vrfwall-lab', env.PATH!)).toBe(path.join(prefix, 'bin/vrfwall-lab'));
  });

  it('vrfwall --version and vrfwall agent --help', () => {
    const v = vrfwall(['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(PKG.version);
    const help = vrfwall(['agent', '--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('--node-name');
    expect(vrfwall(['lab', '--help']).stdout).toContain('matrix');
  });

  it('a client command against no agent fails with a clear error', () => {
    const sock = path.join(tmp, 'nothing.sock');
    const r = vrfwall(['status', '--socket', sock]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(sock);
    expect(r.stderr).not.toMatch(/addon|at .*\.js:\d+/); // a message, not a stack
  });

  it('the installed vrfwall runs a lab (its agents load the BPF objects with the prebuilt addon); an addon-less copy still runs the client commands', () => {
    const up = run('vrfwall', ['lab', 'up', path.join(ROOT, 'examples/cn2-isolated-namespace'), '--name', LAB], 60_000);
    expect(up.status, up.stdout + up.stderr).toBe(0);
    const st = JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as { synced?: boolean; attached?: string[]; lastError?: string };
    expect(st.lastError).toBeUndefined();
    expect(st.synced).toBe(true);
    expect(st.attached?.length).toBeGreaterThan(0);
    expect(fs.readdirSync(`/sys/fs/bpf/vrfwall/${INSTANCE}/maps`)).toContain('endpoints');
    // The lab's agent is the installed lab's (which embeds the installed agent).
    const agentPid = (JSON.parse(fs.readFileSync(stateFile(LAB), 'utf8')) as { agents: { pid: number }[] }).agents[0]!.pid;
    expect(fs.readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0')).toContain(path.join(installed, 'dist/lab/main.js'));
    // The installed relay serves its web UI and the vendored graph library (inside node1, where the lab's UI listens).
    const labState = JSON.parse(fs.readFileSync(stateFile(LAB), 'utf8')) as { plan: { nodes: { netns: string }[] }; relay?: { ui?: string } };
    const get = (p: string) =>
      spawnSync('nsenter', [`--net=/run/netns/${labState.plan.nodes[0]!.netns}`, '--', process.execPath, '-e', `fetch('http://${labState.relay?.ui}${p}').then(async (r) => console.log(r.status, (await r.text()).length))`], { encoding: 'utf8', timeout: 20_000 }).stdout.trim();
    expect(get('/vendor/cytoscape.min.js')).toMatch(/^200 \d{5,}$/);
    expect(get('/vendor/no-such-file.js')).toMatch(/^404 /); // the control: a file the package does not have

    // The copy without its prebuilt addon: the addon cannot load there.
    broken = path.join(tmp, 'no-addon');
    fs.cpSync(installed, broken, { recursive: true, verbatimSymlinks: true });
    fs.rmSync(path.join(broken, 'addon/prebuilds'), { recursive: true });
    const brokenAgent = fromBroken(['agent', '--node-name', 'node1', '--instance', `${LAB}-broken`, '--manifests', path.join(ROOT, 'examples/cn2-isolated-namespace'), '--pod-cidr', '10.244.0.0/16']);
    expect(brokenAgent.status).toBe(1);
    expect(brokenAgent.stderr).toMatch(/^vrfwall agent: vrfwall native addon \(libbpf\) not found for linux-x64/m);

    // ... while its client commands talk to the lab's agent.
    const s = fromBroken(['status', '--lab', LAB]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/node node1: version .*synced/);
    const open = fromBroken(['explain', '--lab', LAB, 'isolated-namespace-demo/pod1', 'isolated-namespace-demo/pod2', '--port', '8080']);
    const closed = fromBroken(['explain', '--lab', LAB, 'isolated-namespace-demo/pod1', 'default/pod4', '--port', '8080']);
    expect(open.status, open.stderr).toBe(0);
    expect(closed.status, closed.stderr).toBe(3); // explain's status for a drop
    expect(open.stdout).toMatch(/allow/i);
    expect(closed.stdout).toMatch(/drop/i);
    const f = fromBroken(['flows', '--lab', LAB]);
    expect(f.status, f.stderr).toBe(0);
  });
});
