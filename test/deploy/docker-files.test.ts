import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'

// No Docker engine runs on these machines, so `docker compose up` cannot be run here. What can be
// checked is checked: the compose file parses and names every service, image and health check, it
// mounts the project's mosquitto.conf, and the Dockerfile's build and start steps are the README's
// commands (`npm ci`, `npm run build:web`, and the runtime half of `npm start`).

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(root + path, 'utf8')

t.test('docker/compose.yaml: hub, Postgres, Redis and an edge Mosquitto, each with a health check', async (t) => {
  const compose = parse(read('docker/compose.yaml')) as { services: Record<string, any>, volumes: Record<string, unknown> }
  t.same(Object.keys(compose.services).sort(), ['hub', 'mosquitto', 'postgres', 'redis'])
  for (const [name, service] of Object.entries(compose.services)) {
    t.ok(typeof service.image === 'string' && service.image.length > 0, `${name} names its image (${service.image})`)
    t.ok(Array.isArray(service.healthcheck?.test) && service.healthcheck.test.length > 1, `${name} has a health check`)
  }
  const hub = compose.services.hub
  t.equal(hub.build.dockerfile, 'docker/Dockerfile')
  t.ok(existsSync(root + 'docker/' + hub.build.context + '/package.json'), 'the hub is built from the project root')
  t.match(hub.environment.DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//, 'the hub uses the compose Postgres')
  t.match(hub.environment.REDIS_URL, /^redis:\/\/redis:6379/, 'and the compose Redis')
  t.same(hub.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } })
  const mount = (compose.services.mosquitto.volumes as string[]).find((v) => v.includes('mosquitto.conf'))
  t.ok(mount !== undefined && existsSync(root + 'docker/' + mount.split(':')[0]), 'the edge Mosquitto runs the project\'s mosquitto.conf')
  for (const service of Object.values(compose.services)) {
    for (const volume of (service.volumes ?? []) as string[]) {
      const source = volume.split(':')[0]
      if (!source.startsWith('.')) t.ok(source in compose.volumes, `named volume ${source} is declared`)
    }
  }
})

t.test('docker/Dockerfile: the README\'s build and start steps, a small non-root runtime, a health check', async (t) => {
  const dockerfile = read('docker/Dockerfile')
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
  const stages = dockerfile.split(/^FROM /m).slice(1)
  t.equal(stages.length, 2, 'a build stage and a runtime stage')
  t.match(stages[0], /RUN npm ci\b/, 'the build installs with npm ci')
  t.match(stages[0], /RUN npm run build:web\b/, 'and builds the dashboard as npm start does')
  t.ok(scripts.start.startsWith('npm run build:web && '), 'npm start is the dashboard build and then the hub')
  const hubCommand = scripts.start.replace('npm run build:web && ', '')
  const cmd = JSON.parse(/^CMD (.*)$/m.exec(stages[1])?.[1] ?? '[]') as string[]
  t.equal(cmd.join(' '), hubCommand, 'the image runs what npm start runs after its build')
  t.match(stages[1], /^USER (?!root)\w+/m, 'the runtime runs as a non-root user')
  t.match(stages[1], /^HEALTHCHECK .*\/readyz/ms, 'with a health check on /readyz')
  t.notMatch(stages[1], /RUN npm (ci|install)/, 'nothing is installed in the runtime stage')
  for (const dir of ['server', 'broker', 'protocol', 'esim']) t.match(stages[1], new RegExp(`COPY --from=build .*/app/${dir} `), `the runtime has ${dir}/`)
})
