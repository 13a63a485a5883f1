// After a failed `make test`: name every failing test file and the failing
// assertions in it, so the last lines of a CI log say what failed.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = '.tap/test-results'
const files = []
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p)
    else if (e.name.endsWith('.tap')) files.push(p)
  }
}
try { walk(root) } catch { console.log('no test results under .tap/test-results'); process.exit(0) }
let failing = 0
for (const f of files.sort()) {
  const lines = readFileSync(f, 'utf8').split('\n')
  const bad = []
  lines.forEach((line, i) => {
    if (/^\s*not ok /.test(line) && !/# (TODO|SKIP)/.test(line)) {
      bad.push(lines.slice(i, i + 12).join('\n'))
    }
  })
  if (bad.length) {
    failing++
    console.log(`\n=== FAILED: ${f.slice(root.length + 1, -4)}`)
    for (const b of bad.slice(-6)) console.log(b)
  }
}
if (!failing) console.log('no failing assertion recorded (a test file may have timed out or crashed)')
