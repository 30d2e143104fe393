// Runs a script under the real MicroPython (the WebAssembly port from npm) for tests/micropython.py.
//
// Reads one JSON job from stdin: {"files": {"supervisor/link.py": "...", ...}, "main": "..."}.
// Each file is written at that path under MicroPython's filesystem root, which is also its
// current directory and on its sys.path, as on a board's flash. Then `main` runs; everything it
// prints goes to our stdout. Exit 0 when it finished, 1 with MicroPython's traceback on stderr
// when it raised, 2 when the job itself was bad.

import { readFileSync } from "node:fs";

const PACKAGE = "@micropython/micropython-webassembly-pyscript";
const MODULE = new URL(`../node_modules/${PACKAGE}/micropython.mjs`, import.meta.url);

function fail(message) {
  process.stderr.write(`micropython_runner: ${message}\n`);
  process.exit(2);
}

let job;
try {
  job = JSON.parse(readFileSync(0, "utf8"));
} catch (err) {
  fail(`stdin is not a JSON job: ${err.message}`);
}
if (typeof job.main !== "string" || typeof job.files !== "object" || job.files === null) {
  fail('the job needs "files" (an object) and "main" (a string)');
}

const { loadMicroPython } = await import(MODULE.href);
const out = [];
const mp = await loadMicroPython({
  linebuffer: false,
  stdout: (bytes) => out.push(Buffer.from(bytes)),
  stderr: (bytes) => out.push(Buffer.from(bytes)),
});

for (const [path, text] of Object.entries(job.files)) {
  const parts = path.split("/");
  if (path.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..")) {
    fail(`file paths are relative and plain: ${JSON.stringify(path)}`);
  }
  if (parts.length > 1) {
    mp.FS.mkdirTree("/" + parts.slice(0, -1).join("/"));
  }
  mp.FS.writeFile("/" + path, text);
}

let code = 0;
try {
  mp.runPython(job.main);
} catch (err) {
  // A PythonError's message is MicroPython's own traceback.
  process.stderr.write(err && err.message ? err.message : String(err));
  code = 1;
}
process.stdout.write(Buffer.concat(out), () => process.exit(code));
