// HUB_PUBLIC_URL and HUB_WEBHOOK_ALLOW_PRIVATE are validated at start like every setting.
import t from 'tap'
import { loadConfig } from '../../server/config.ts'

t.test('HUB_PUBLIC_URL and HUB_WEBHOOK_ALLOW_PRIVATE', async (t) => {
  t.match(loadConfig({}), { publicUrl: null, webhookAllowPrivate: false }, 'defaults: no links, private receivers refused')
  t.match(loadConfig({ HUB_PUBLIC_URL: 'https://hub.example.com/', HUB_WEBHOOK_ALLOW_PRIVATE: '1' }), { publicUrl: 'https://hub.example.com', webhookAllowPrivate: true })
  t.match(loadConfig({ HUB_PUBLIC_URL: 'https://hub.example.com/base' }), { publicUrl: 'https://hub.example.com/base' })
  for (const bad of ['hub.example.com', 'ftp://hub.example.com', 'https://hub.example.com/?q=1', 'https://u:p@hub.example.com']) {
    t.throws(() => loadConfig({ HUB_PUBLIC_URL: bad }), { code: 'HUB_ERR_CONFIG', message: /HUB_PUBLIC_URL/ }, bad)
  }
  for (const bad of ['yes', 'true', '2']) t.throws(() => loadConfig({ HUB_WEBHOOK_ALLOW_PRIVATE: bad }), { message: /HUB_WEBHOOK_ALLOW_PRIVATE.*0 or 1/ }, bad)
})
