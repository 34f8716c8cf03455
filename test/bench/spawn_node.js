// spawn_node.js — Node's child_process: spawn('true') and wait for 'exit',
// N times in sequence (spawn_rate.sh's workload); one key=value line.
//   node spawn_node.js N
const { spawn } = require('child_process');

const n = Number(process.argv[2] || 1000);
let failures = 0;

function once() {
  return new Promise((resolve) => {
    spawn('true', [], { stdio: 'inherit' }).on('exit', (code, signal) => resolve(code === 0 && !signal));
  });
}

(async () => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (!(await once())) failures++;
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  const cpuUs = (c.user + c.system) / n;
  if (failures) {
    console.error(`${failures} children failed`);
    process.exit(1);
  }
  console.log(`peer=node workload=spawn_process n=${n} us_per_op=${(wallMs * 1000 / n).toFixed(1)} ` +
              `wall_ms=${wallMs.toFixed(1)} per_s=${(n / (wallMs / 1000)).toFixed(0)} cpu_us=${cpuUs.toFixed(1)}`);
})();
