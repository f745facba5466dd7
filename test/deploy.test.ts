import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ROLE_NAMES, SETTING_NAMES, loadConfig, type RoleName } from '@eufy-relay/config';

// Deployment files are read by Render and docker compose, not by our code: these checks keep them
// consistent with the config schema and the app layout so a typo fails here, not at deploy time.
const root = path.resolve(__dirname, '..');
// merge: compose files use YAML merge keys (`<<: *relay`).
const read = (file: string) =>
  parseYaml(readFileSync(path.join(root, file), 'utf8'), { merge: true }) as Record<string, unknown>;

interface EnvVar {
  key?: string;
  value?: string;
  generateValue?: boolean;
  sync?: boolean;
  fromGroup?: string;
  fromService?: { type: string; name: string; property?: string; envVarKey?: string };
}
interface RenderService {
  type: string;
  name: string;
  runtime?: string;
  dockerCommand?: string;
  disk?: { name: string; mountPath: string; sizeGB?: number };
  envVars?: EnvVar[];
  maxmemoryPolicy?: string;
  ipAllowList?: unknown[];
  healthCheckPath?: string;
  maxShutdownDelaySeconds?: number;
  numInstances?: number;
  image?: { url: string };
}

/** The env vars eufy-security-ws itself reads (bropat/eufy-security-ws README, "Docker"). */
const BRIDGE_ENV = [
  'USERNAME',
  'PASSWORD',
  'COUNTRY',
  'LANGUAGE',
  'TRUSTED_DEVICE_NAME',
  'EVENT_DURATION_SECONDS',
  'P2P_CONNECTION_SETUP',
  'POLLING_INTERVAL_MINUTES',
  'ACCEPT_INVITATIONS',
  'STATION_IP_ADDRESSES',
  'PORT',
  'DEBUG',
];

/** The role an entry point runs, or the roles of the launcher (ROLES). */
function rolesOf(command: string, env: Record<string, string>): RoleName[] {
  const m = /^node apps\/([a-z-]+)\/dist\/main\.js$/.exec(command);
  if (!m) throw new Error(`unexpected command ${command}`);
  const app = m[1]!;
  expect(existsSync(path.join(root, 'apps', app, 'src', 'main.ts'))).toBe(true);
  if (app === 'launcher') return loadConfig({ env }).ROLES;
  expect(ROLE_NAMES).toContain(app);
  return [app as RoleName];
}

interface Blueprint {
  services: RenderService[];
  envVarGroups: { name: string; envVars: EnvVar[] }[];
}

/** What a person types into the dashboard for a `sync: false` setting, plausibly. */
const TYPED_IN: Record<string, string> = {
  WORKATO_WEBHOOK_URL: 'https://hooks.example.com/x',
  S3_ENDPOINT: 'https://0123456789abcdef.r2.cloudflarestorage.com',
  S3_REGION: 'auto',
  S3_BUCKET: 'eufy-relay-recordings',
};

/** The environment a service would get, with Render-provided values stood in by plausible ones. */
function renderEnv(blueprint: Blueprint, service: RenderService): Record<string, string> {
  const groups = new Map(blueprint.envVarGroups.map((g) => [g.name, g.envVars]));
  const env: Record<string, string> = {};
  const add = (v: EnvVar) => {
    if (v.fromGroup) {
      expect(groups.has(v.fromGroup)).toBe(true);
      groups.get(v.fromGroup)!.forEach(add);
      return;
    }
    expect(typeof v.key).toBe('string');
    if (v.fromService) {
      const target = blueprint.services.find((s) => s.name === v.fromService!.name);
      expect(target?.type).toBe(v.fromService.type);
      env[v.key!] =
        v.fromService.property === 'connectionString'
          ? 'redis://red-abc123:6379'
          : `${v.fromService.name}:3000`;
    } else if (v.generateValue) env[v.key!] = 'R2VuZXJhdGVkIGJ5IFJlbmRlciAzMiBieXRlcyE=';
    else if (v.sync === false) env[v.key!] = TYPED_IN[v.key!] ?? 'typed-in-dashboard';
    else env[v.key!] = String(v.value);
  };
  (service.envVars ?? []).forEach(add);
  return env;
}

describe('render.yaml', () => {
  const blueprint = read('render.yaml') as unknown as Blueprint;
  const services = blueprint.services;
  const groups = new Map(blueprint.envVarGroups.map((g) => [g.name, g.envVars]));
  const relayServices = services.filter((s) => s.runtime === 'docker');
  const envOf = (service: RenderService) => renderEnv(blueprint, service);

  it('gives every relay service an environment the config schema accepts, with only known names', () => {
    expect(relayServices.map((s) => s.name).sort()).toEqual([
      'eufy-relay',
      'eufy-relay-ingest',
      'eufy-relay-notifier',
    ]);
    for (const service of relayServices) {
      const env = envOf(service);
      for (const key of Object.keys(env)) expect(SETTING_NAMES).toContain(key);
      expect(() => loadConfig({ env })).not.toThrow();
      expect(env.REDIS_URL).toBe('redis://red-abc123:6379');
    }
  });

  it('sends a bad value in a group to every service that uses it (so this check can fail)', () => {
    const broken = { ...envOf(relayServices[0]!), MOTION_TIMEOUT_SECONDS: 'sixty' };
    expect(() => loadConfig({ env: broken })).toThrow(ConfigError);
  });

  it('has exactly one service with the recordings disk, running every role that touches it', () => {
    const withRecordings = services.filter((s) => s.disk && s.disk.mountPath === envOf(s).RECORDINGS_DIR);
    expect(withRecordings).toHaveLength(1);
    const web = withRecordings[0]!;
    expect(web.type).toBe('web');
    // Render restarts on a failing check: it probes liveness, which a bridge problem does not fail.
    expect(web.healthCheckPath).toBe('/health/live');
    expect(web.maxShutdownDelaySeconds).toBeGreaterThanOrEqual(60);
    const rolesByService = new Map(relayServices.map((s) => [s.name, rolesOf(s.dockerCommand!, envOf(s))]));
    expect(rolesByService.get(web.name)!.sort()).toEqual(['api', 'janitor', 'recorder']);
    // Nothing else runs a role that reads or writes recordings.
    for (const [name, roles] of rolesByService) {
      if (name !== web.name)
        expect(roles.filter((r) => ['api', 'recorder', 'janitor'].includes(r))).toEqual([]);
    }
    expect([...rolesByService.values()].flat().sort()).toEqual([...ROLE_NAMES].sort());
  });

  it('runs eufy-security-ws as a private service from its public image with a disk for /data', () => {
    const bridge = services.find((s) => s.name === 'eufy-security-ws')!;
    expect(bridge.type).toBe('pserv');
    expect(bridge.image?.url).toMatch(/bropat\/eufy-security-ws/);
    expect(bridge.disk?.mountPath).toBe('/data');
    for (const v of bridge.envVars ?? []) expect(BRIDGE_ENV).toContain(v.key);
  });

  it('has one Key Value instance with noeviction and no public access, wired by fromService', () => {
    const kv = services.filter((s) => s.type === 'keyvalue');
    expect(kv).toHaveLength(1);
    expect(kv[0]).toMatchObject({ maxmemoryPolicy: 'noeviction', ipAllowList: [] });
    // REDIS_URL cannot come from an env group (groups cannot hold fromService): each service wires it.
    for (const group of groups.values()) expect(group.map((v) => v.key)).not.toContain('REDIS_URL');
  });
});

describe('render.s3.yaml (STORAGE_BACKEND=s3: no disk, each role scaled on its own)', () => {
  const blueprint = read('render.s3.yaml') as unknown as Blueprint;
  const relays = blueprint.services.filter((s) => s.runtime === 'docker');
  const envOf = (service: RenderService) => renderEnv(blueprint, service);
  const rolesOfService = (s: RenderService) => rolesOf(s.dockerCommand!, envOf(s));

  it('runs every role once, each in a service the config schema accepts (production start rules included)', () => {
    expect(relays.flatMap(rolesOfService).sort()).toEqual([...ROLE_NAMES].sort());
    for (const service of relays) {
      const env = envOf(service);
      for (const key of Object.keys(env)) expect(SETTING_NAMES).toContain(key);
      const config = loadConfig({ env });
      expect(config.NODE_ENV).toBe('production');
      const [role] = rolesOfService(service);
      if (role === 'api' || role === 'recorder' || role === 'janitor') {
        expect({ role, backend: config.STORAGE_BACKEND }).toEqual({ role, backend: 's3' });
        expect(config.S3_BUCKET).toBeDefined();
      }
      if (role === 'api' || role === 'recorder') {
        // What requireInProduction asks of them under s3, and the api's own.
        expect(config.SPOOL_SECRET).toBeDefined();
        expect(config.URL_SIGNING_SECRET).toBeDefined();
      }
    }
  });

  it('gives no relay service a disk; the api and the recorders run several instances', () => {
    for (const service of relays)
      expect({ name: service.name, disk: service.disk }).toEqual({ name: service.name, disk: undefined });
    const byRole = (role: RoleName) => relays.find((s) => rolesOfService(s).includes(role))!;
    const api = byRole('api');
    expect(api.type).toBe('web');
    expect(api.healthCheckPath).toBe('/health/live');
    expect(api.numInstances).toBeGreaterThanOrEqual(2);
    // The api must reach each recorder's spool endpoint: a private service, not a background worker
    // (which receives no private network traffic).
    const recorder = byRole('recorder');
    expect(recorder.type).toBe('pserv');
    expect(recorder.numInstances).toBeGreaterThanOrEqual(2);
    expect(recorder.maxShutdownDelaySeconds).toBeGreaterThanOrEqual(60);
    // Its address is the instance's own (the default), never one shared name for all instances.
    expect(envOf(recorder).SPOOL_URL).toBeUndefined();
  });

  it('keeps the bridge and Key Value as render.yaml has them', () => {
    const plain = read('render.yaml') as unknown as Blueprint;
    for (const name of ['eufy-security-ws', 'eufy-relay-redis'])
      expect(blueprint.services.find((s) => s.name === name)).toEqual(
        plain.services.find((s) => s.name === name),
      );
  });
});

type ComposeService = {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { source: string; target: string })[];
  image?: string;
  profiles?: string[];
  ports?: (string | { published: number | string; target: number | string })[];
};

// Without docker-compose these checks cannot run: in CI that is a failure (.ci/run installs it);
// elsewhere they are skipped, so jest's summary counts them as skipped rather than passed.
const composeMissing = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).error !== undefined;
const itWithCompose = composeMissing && !process.env.CI ? it.skip : it;
function requireCompose(): void {
  if (composeMissing)
    throw new Error("docker-compose is not installed (.ci/run installs Debian's docker-compose)");
}

/**
 * The services `docker compose --profile <profile> up` starts, as docker-compose resolves them on a
 * fresh clone: no .env and none of our settings in the environment. docker-compose 1.x prints every
 * service whatever the profile, so the profile's selection (no profiles, or this one) is made here.
 */
function composeServices(profile: string): Record<string, ComposeService> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-compose-'));
  try {
    const envFile = path.join(dir, 'empty.env');
    writeFileSync(envFile, '');
    const out = execFileSync(
      'docker-compose',
      ['-f', path.join(root, 'docker-compose.yml'), '--env-file', envFile, '--profile', profile, 'config'],
      { cwd: dir, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', stdio: 'pipe' },
    );
    const all = (parseYaml(out) as { services: Record<string, ComposeService> }).services;
    return Object.fromEntries(
      Object.entries(all).filter(([, s]) => !s.profiles || s.profiles.includes(profile)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A relay service's entry point and the command line the container runs (unwrapping `sh -c`). */
function entryPoint(service: ComposeService): string {
  const command = service.command!;
  if (command[0] !== 'sh') return command.join(' ');
  const m = /exec (node apps\/[a-z-]+\/dist\/main\.js)$/.exec(command[2]!);
  if (!m) throw new Error(`unexpected shell command ${command[2]}`);
  return m[1]!;
}

const volumeTargets = (service: ComposeService) =>
  (service.volumes ?? []).map((v) =>
    typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v,
  );

/** A service that runs one of the relay's entry points (a role's, or the launcher's). */
const RELAY_ENTRY = new RegExp(`apps/(${['launcher', ...ROLE_NAMES].join('|')})/`);

describe('docker-compose.yml --profile demo (no .env)', () => {
  let services: Record<string, ComposeService> = {};
  beforeAll(() => {
    if (!composeMissing) services = composeServices('demo');
  });

  const relays = () =>
    Object.entries(services)
      .filter(([, s]) => RELAY_ENTRY.test(s.command?.join(' ') ?? ''))
      .map(([name, s]) => ({
        name,
        service: s,
        env: s.environment ?? {},
        roles: rolesOf(entryPoint(s), s.environment ?? {}),
      }));

  itWithCompose(
    'starts Redis, the simulator, the inbox and every role, with settings the schema accepts',
    () => {
      requireCompose();
      expect(Object.keys(services).sort()).toEqual(['eufy-sim', 'redis', 'relay-demo', 'webhook-inbox']);
      expect(
        relays()
          .flatMap((r) => r.roles)
          .sort(),
      ).toEqual([...ROLE_NAMES].sort());
      for (const { env } of relays()) {
        for (const key of Object.keys(env)) expect(SETTING_NAMES).toContain(key);
        expect(() => loadConfig({ env })).not.toThrow();
      }
    },
  );

  itWithCompose(
    'gives the api a token, a URL signing secret and an address other containers and the host reach',
    () => {
      requireCompose();
      const api = relays().find((r) => r.roles.includes('api'))!;
      const config = loadConfig({ env: api.env });
      expect(config.NODE_ENV).toBe('production');
      expect(config.API_TOKEN?.length).toBeGreaterThanOrEqual(16);
      expect(config.URL_SIGNING_SECRET?.length).toBeGreaterThanOrEqual(16);
      expect(config.HOST).toBe('0.0.0.0');
      expect(api.service.ports).toContainEqual(expect.objectContaining({ target: config.PORT }));
      const published = api.service.ports!.find(
        (p) => typeof p !== 'string' && Number(p.target) === config.PORT,
      );
      expect(config.PUBLIC_BASE_URL).toBe(
        `http://localhost:${typeof published === 'string' ? '' : published!.published}`,
      );
    },
  );

  itWithCompose('prints the page, its password and the webhook secret at start, as the README says', () => {
    requireCompose();
    const demo = services['relay-demo']!;
    // What the container's shell runs, up to handing over to node ($$ is compose's escape of $).
    const script = demo.command![2]!.replace(/\$\$/g, '$').replace(/exec node .*$/, 'true');
    const printed = execFileSync('sh', ['-c', script], { env: demo.environment, encoding: 'utf8' });
    const env = demo.environment!;
    expect(printed).toContain(`${env.PUBLIC_BASE_URL}/`);
    expect(printed).toContain(`password ${env.API_TOKEN}`);
    expect(printed).toContain(env.WEBHOOK_SECRET);
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    for (const secret of [env.API_TOKEN!, env.WEBHOOK_SECRET!, env.URL_SIGNING_SECRET!])
      expect(readme).toContain(secret);
  });

  itWithCompose('points every role at the simulator and the inbox, which listen where the roles look', () => {
    requireCompose();
    const sim = services['eufy-sim']!;
    const inbox = services['webhook-inbox']!;
    for (const { env, roles } of relays()) {
      const config = loadConfig({ env });
      if (roles.includes('ingest') || roles.includes('recorder')) {
        const bridge = new URL(config.EUFY_WS_URL);
        expect(services[bridge.hostname]).toBe(sim);
        // The simulator's defaults: port 3000 unless --port says otherwise; it must not stay on loopback.
        expect(sim.command).not.toContain('--port');
        expect(bridge.port).toBe('3000');
        expect(sim.command!.join(' ')).toContain('--host 0.0.0.0');
      }
      if (roles.includes('notifier')) {
        const hooks = new URL(config.WORKATO_WEBHOOK_URL!);
        expect(services[hooks.hostname]).toBe(inbox);
        expect(hooks.port).toBe('8090');
        expect(hooks.pathname).toBe('/hooks');
        // The inbox checks the signature with the key the notifier signs with.
        expect(inbox.environment?.WEBHOOK_SECRET).toBe(config.WEBHOOK_SECRET);
      }
    }
  });

  itWithCompose(
    'mounts one recordings volume where the recorder writes, shared by every role that reads it',
    () => {
      requireCompose();
      const onDisk = relays().filter((r) =>
        r.roles.some((role) => ['api', 'recorder', 'janitor'].includes(role)),
      );
      const mounts = onDisk.map((r) => {
        const dir = loadConfig({ env: r.env }).RECORDINGS_DIR;
        const at = volumeTargets(r.service).filter((v) => v.target === dir);
        expect(at).toHaveLength(1);
        // Nothing else: the api needs no disk of its own.
        expect(volumeTargets(r.service)).toHaveLength(1);
        return at[0]!.source;
      });
      expect(new Set(mounts).size).toBe(1);
    },
  );
});

describe('docker-compose.yml --profile cameras (no .env)', () => {
  itWithCompose(
    'runs each role in its own container and leaves the secrets to .env: the api refuses to start without them',
    () => {
      requireCompose();
      const services = composeServices('cameras');
      expect(Object.keys(services).sort()).toEqual(['eufy-security-ws', 'redis', ...ROLE_NAMES].sort());
      const config = loadConfig({ env: services.api!.environment ?? {} });
      expect(config.NODE_ENV).toBe('production');
      expect(config.API_TOKEN).toBeUndefined();
      expect(new URL(config.EUFY_WS_URL).hostname).toBe('eufy-security-ws');
      expect(services['eufy-security-ws']!.environment).toMatchObject({ USERNAME: '', PASSWORD: '' });
    },
  );
});

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml') as {
    services: Record<
      string,
      { command?: string[]; environment?: Record<string, string>; volumes?: string[]; image?: string }
    >;
  };

  itWithCompose('is accepted by docker-compose config', () => {
    requireCompose();
    execFileSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config', '-q'], {
      cwd: root,
      stdio: 'pipe',
    });
  });

  it('runs Redis with AOF and noeviction, and every role on one shared recordings volume', () => {
    const redis = compose.services.redis!;
    expect(redis.command).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
    for (const role of ROLE_NAMES) {
      const service = compose.services[role]!;
      expect(service.command).toEqual(['node', `apps/${role}/dist/main.js`]);
      expect(service.volumes).toContain('recordings:/data/recordings');
      for (const key of Object.keys(service.environment ?? {})) expect(SETTING_NAMES).toContain(key);
    }
    for (const demo of ['eufy-sim', 'webhook-inbox'])
      expect(compose.services[demo]!.command![1]).toBe(`apps/${demo}/dist/main.js`);
  });

  it('puts nginx in front of the api with the repo template, every variable of it set, and the recordings read-only', () => {
    const nginx = compose.services.nginx!;
    expect(nginx.volumes).toEqual(
      expect.arrayContaining([
        './deploy/nginx/templates:/etc/nginx/templates:ro',
        'recordings:/data/recordings:ro',
      ]),
    );
    const template = readFileSync(path.join(root, 'deploy/nginx/templates/default.conf.template'), 'utf8');
    const used = [...new Set([...template.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!))].sort();
    expect(Object.keys(nginx.environment ?? {}).sort()).toEqual(used);
    expect(nginx.environment!.RECORDINGS_DIR).toBe('/data/recordings');
    expect(nginx.environment!.API_UPSTREAM).toBe(`api:${compose.services.api!.environment!.PORT}`);
    expect(compose.services.api!.environment!.ACCEL_REDIRECT).toBe('${ACCEL_REDIRECT:-off}');
  });
});
