// Builds every example (examples/<name>) and test guest (testdata/<name>)
// that has an asconfig.json into OUT_DIR, in one Node.js process (the
// compiler's start-up dominates a small build):
//
//   node build.mjs OUT_DIR
//
// gives OUT_DIR/<name>.wasm for examples, with OUT_DIR/<name>.yaml when
// the example has a plugin.yaml, and OUT_DIR/testdata-<name>.wasm for test
// guests. build.sh is the usual entry point; it installs the compiler first.
import asc from "assemblyscript/asc";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (process.argv.length !== 3) {
  console.error("usage: node build.mjs OUT_DIR");
  process.exit(2);
}
const out = resolve(process.argv[2]);
mkdirSync(out, { recursive: true });

const jobs = [];
for (const [group, prefix] of [["examples", ""], ["testdata", "testdata-"]]) {
  const root = join(here, group);
  if (!existsSync(root)) continue;
  for (const ent of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(root, ent.name);
    if (ent.isDirectory() && existsSync(join(dir, "asconfig.json"))) jobs.push({ dir, name: prefix + ent.name });
  }
}

for (const { dir, name } of jobs) {
  const wasm = join(out, name + ".wasm");
  console.log(`build.mjs: ${relative(here, dir)} -> ${wasm}`);
  process.chdir(dir);
  const { error, stderr } = await asc.main(["--config", "asconfig.json", "--target", "release", "--outFile", wasm]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build.mjs: ${relative(here, dir)}: ${error.message}`);
    process.exit(1);
  }
  const manifest = join(dir, "plugin.yaml");
  if (existsSync(manifest)) copyFileSync(manifest, join(out, name + ".yaml"));
}
