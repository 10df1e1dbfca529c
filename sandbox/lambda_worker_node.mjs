// One warm Node.js Lambda execution environment of the sandbox (run as a script, not imported).
//
// Started by `lambda_runtime.LambdaRuntime` with `node lambda_worker_node.mjs CODE_DIR FD` in the
// environment Lambda would give the function (its variables, credentials, region,
// `AWS_ENDPOINT_URL`) and nothing of the caller's; `NODE_PATH` names the AWS SDK for JavaScript v3
// that stands in for the one Lambda's Node.js runtimes provide. The handler is loaded from the
// function's own package first, as AWS's runtime interface client does (`file.export`: an
// extensionless file, `.js` as CommonJS unless the package says "type": "module", `.mjs`, `.cjs`),
// and the project's own source tree is nowhere on the way.
//
// Protocol (the same as lambda_worker.py's): `{"ready": true}` on file descriptor FD once the
// handler is loaded (the Init phase), then one JSON request per line on stdin, one JSON answer
// per line on FD (`{"errored": bool, "payload": ...}`). The handler's console
// output goes to stdout, as Lambda's log lines (time, request id, level, message).
//
// Between invocations the worker blocks reading stdin: like a frozen Lambda environment, nothing
// of the function (a timer, a socket left open) runs until the next invocation thaws it. During an
// invocation nothing of the worker's keeps the event loop alive, so `callbackWaitsForEmptyEventLoop`
// means what it means in AWS. One difference: after an uncaught exception or an unhandled rejection
// AWS's runtime exits and the next invocation gets a new environment; this worker answers the
// error as AWS does and stays warm (an answer followed by an exit would race the pool's reuse).

import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire, register, syncBuiltinESMExports } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const [codeDir, answerFd] = [process.argv[2], Number(process.argv[3])];

// ---------------------------------------------------------------- the runtime's errors
// As AWS's runtime interface client names them (`Runtime.<class>`), their stack starting with it.
class RuntimeError extends Error {}
const runtimeErrors = {};
for (const name of ["ImportModuleError", "HandlerNotFound", "MalformedHandlerName", "UserCodeSyntaxError",
  "UnhandledPromiseRejection", "NodeJsExit"]) {
  runtimeErrors[name] = class extends RuntimeError {};
  runtimeErrors[name].prototype.name = `Runtime.${name}`;
}
const NODE_JS_EXIT =
  "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a " +
  "Promise that was never settled. For more information, see " +
  "https://nodejs.org/docs/latest/api/process.html#exit-codes";

function isErrorLike(value) {
  return Boolean(value) && typeof value.name === "string" && typeof value.message === "string" &&
    typeof value.stack === "string";
}

/** The error document Lambda's Node.js runtime answers with: errorType, errorMessage, trace. */
function errorPayload(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split("\n") };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage: "callback called with Error argument, but there was a problem while retrieving one or more " +
        "of its message, name, and stack",
    };
  }
}

/** The error as the runtime logs it: its type, message and own properties, the stack as lines. */
function formatted(error) {
  try {
    return JSON.stringify(error, (_key, value) => {
      if (!(value instanceof Error)) return value;
      const shown = { errorType: value.name, errorMessage: value.message, code: value.code, ...value };
      if (typeof value.stack === "string") shown.stack = value.stack.split("\n");
      return shown;
    });
  } catch {
    return JSON.stringify(errorPayload(error));
  }
}

// ---------------------------------------------------------------- logs
// Lambda's text log format: `<ISO time>\t<request id>\t<LEVEL>\t<message>`.
let currentRequestId = "undefined";
function log(level, ...args) {
  fs.writeSync(1, `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`);
}
for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"],
  ["debug", "DEBUG"]]) {
  console[method] = (...args) => log(level, ...args);
}
console.trace = (...args) => {
  const stack = new Error().stack.split("\n").slice(2).join("\n");
  log("TRACE", `Trace: ${util.format(...args)}\n${stack}`);
};

// ---------------------------------------------------------------- ES modules find the SDK
// require() honours NODE_PATH; import does not. Lambda's Node.js runtimes let an ES module import
// the SDK they provide, so a bare specifier the package does not resolve is looked up there.
const sdkResolver = `
import path from "node:path";
import { pathToFileURL } from "node:url";
const roots = (process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean);
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const bare = !/^(\\.|\\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !bare) throw error;
    for (const root of roots) {
      try {
        return await next(specifier, { ...context, parentURL: pathToFileURL(path.join(root, "index.js")).href });
      } catch {}
    }
    throw error;
  }
}`;
register(`data:text/javascript,${encodeURIComponent(sdkResolver)}`);

// ---------------------------------------------------------------- the sandbox's network
// In AWS a custom resource's ResponseURL is a pre-signed https URL of S3, and CDK's handlers PUT to
// it with https.request({hostname, path}): port 443, whatever the URL said. The sandbox answers on
// its endpoint over http, so https to the endpoint's host on the default port goes there.
const endpoint = process.env.AWS_ENDPOINT_URL ? new URL(process.env.AWS_ENDPOINT_URL) : null;
if (endpoint?.protocol === "http:") {
  const http = require("node:http");
  const https = require("node:https");
  const toEndpoint = (host, port) => host === endpoint.hostname && [undefined, null, "", 443, "443"].includes(port);
  const reroute = (args) => {
    const [first, ...rest] = args;
    if (typeof first === "string" || first instanceof URL) {
      const url = new URL(first);
      if (!toEndpoint(url.hostname, url.port)) return null;
      const options = rest.length && typeof rest[0] === "object" ? rest.shift() : {};
      return [{ ...options, protocol: "http:", hostname: endpoint.hostname, port: endpoint.port,
        path: `${url.pathname}${url.search}`, agent: undefined }, ...rest];
    }
    if (!first || typeof first !== "object" || !toEndpoint(first.hostname ?? first.host, first.port)) return null;
    return [{ ...first, protocol: "http:", host: undefined, hostname: endpoint.hostname, port: endpoint.port,
      agent: undefined }, ...rest];
  };
  for (const method of ["request", "get"]) {
    const original = https[method];
    https[method] = function (...args) {
      const routed = reroute(args);
      return routed ? http[method](...routed) : original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
}

// ---------------------------------------------------------------- loading the handler
function packageSaysModule(folder) {
  // The nearest package.json's "type" decides what a .js file is; node_modules ends the search.
  if (folder.endsWith(`${path.sep}node_modules`)) return false;
  const manifest = path.join(folder, "package.json");
  if (fs.existsSync(manifest)) {
    try {
      return JSON.parse(fs.readFileSync(manifest, "utf8"))?.type === "module";
    } catch (error) {
      console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, error);
      return false;
    }
  }
  const parent = path.dirname(folder);
  return parent === folder ? false : packageSaysModule(parent);
}

function requireIfThere(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function importIfThere(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const file = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = requireIfThere(file);
  if (extensionless) return extensionless;
  const isModule = packageSaysModule(path.dirname(file));
  if (!isModule) {
    const commonJs = requireIfThere(`${file}.js`);
    if (commonJs) return commonJs;
  }
  const loaded = (isModule && (await importIfThere(`${file}.js`))) || (await importIfThere(`${file}.mjs`)) ||
    requireIfThere(`${file}.cjs`);
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes("..")) {
    throw new runtimeErrors.MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new runtimeErrors.MalformedHandlerName("Bad handler");
  const [, moduleName, handlerPath] = match;
  let userModule;
  try {
    userModule = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) throw new runtimeErrors.UserCodeSyntaxError(String(error));
    if (error?.code === "MODULE_NOT_FOUND") throw new runtimeErrors.ImportModuleError(String(error));
    throw error;
  }
  const handler = handlerPath.split(".").reduce((nested, key) => nested && nested[key], userModule);
  if (!handler) throw new runtimeErrors.HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== "function") throw new runtimeErrors.HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

// ---------------------------------------------------------------- one invocation
let exitListener = null; // what the runtime does once the event loop is empty (AWS: `beforeExit`)
let current = null; // the invocation in progress: its error reporter, for errors outside the handler

function answer(errored, payload) {
  let text;
  try {
    text = JSON.stringify({ errored, payload: payload === undefined ? null : payload });
  } catch {
    const error = new Error("Unable to stringify response body");
    log("ERROR", "Invoke Error", formatted(error));
    text = JSON.stringify({ errored: true, payload: errorPayload(error) });
  }
  fs.writeSync(answerFd, `${text}\n`);
}

function contextFor(request, callbackContext) {
  const deadline = Date.now() + Number(request.timeout) * 1000;
  return Object.assign(callbackContext, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: undefined,
    identity: undefined,
    invokedFunctionArn: request.invoked_function_arn,
    awsRequestId: request.request_id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

function invoke(handler, request) {
  const requestId = request.request_id;
  currentRequestId = requestId;
  process.env._X_AMZN_TRACE_ID =
    `Root=1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, "0")}-${hex(24)};Parent=${hex(16)};Sampled=0`;
  fs.writeSync(1, `START RequestId: ${requestId} Version: ${process.env.AWS_LAMBDA_FUNCTION_VERSION}\n`);

  let done = false;
  const finish = (errored, payload) => {
    if (done) {
      console.error("Invocation has already been reported as done. Cannot call complete more than once per invocation.");
      return;
    }
    done = true;
    exitListener = null;
    current = null;
    fs.writeSync(1, `END RequestId: ${requestId}\n`);
    answer(errored, payload);
    setImmediate(next);
  };
  const fail = (error) => {
    log("ERROR", "Invoke Error", formatted(error));
    finish(true, errorPayload(error));
  };
  current = { fail };

  // The callback and context.succeed/fail/done: only the first call of any of them counts.
  let called = false;
  const once = (act) => (...args) => {
    if (!called) {
      called = true;
      act(...args);
    }
  };
  let waitForEmptyEventLoop = true;
  const callback = once((error, result) => {
    exitListener = null;
    if (error !== undefined && error !== null) fail(error);
    else if (!waitForEmptyEventLoop) finish(false, result);
    else exitListener = () => setImmediate(() => finish(false, result));
  });
  const settle = (error, result) => {
    exitListener = null;
    if (error !== undefined && error !== null) fail(error);
    else finish(false, result);
  };
  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => settle(null, result)),
    fail: once((error) => settle(error === undefined || error === null ? "handled" : error, null)),
    done: once(settle),
  };

  // A handler that returns no promise and never calls back: its answer is null once the event loop
  // is empty; an async one whose promise never settles fails with Runtime.NodeJsExit.
  const isAsync = handler.constructor?.name === "AsyncFunction";
  exitListener = () => (isAsync ? fail(new runtimeErrors.NodeJsExit(NODE_JS_EXIT)) : finish(false, null));

  try {
    const result = handler(request.event, contextFor(request, callbackContext), callback);
    if (result && typeof result.then === "function") {
      result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
    }
  } catch (error) {
    callback(error);
  }
}

function hex(length) {
  let text = "";
  while (text.length < length) text += Math.floor(Math.random() * 16).toString(16);
  return text;
}

// ---------------------------------------------------------------- the loop
let handler = null;
let initError = null;
let pending = Buffer.alloc(0);
const pause = new Int32Array(new SharedArrayBuffer(4));

function readRequest() {
  // Blocking on purpose: the environment is frozen until the next invocation.
  const chunk = Buffer.alloc(1 << 16);
  for (;;) {
    const newline = pending.indexOf(10);
    if (newline >= 0) {
      const line = pending.subarray(0, newline).toString("utf8");
      pending = pending.subarray(newline + 1);
      return JSON.parse(line);
    }
    let read;
    try {
      read = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 10); // stdin was made non-blocking by someone: wait, do not spin
      continue;
    }
    if (read === 0) return null;
    pending = Buffer.concat([pending, chunk.subarray(0, read)]);
  }
}

function next() {
  const request = readRequest();
  if (request === null) process.exit(0);
  if (initError !== null) {
    currentRequestId = request.request_id;
    fs.writeSync(1, `START RequestId: ${request.request_id} Version: ${process.env.AWS_LAMBDA_FUNCTION_VERSION}\n`);
    fs.writeSync(1, `END RequestId: ${request.request_id}\n`);
    answer(true, initError);
    setImmediate(next);
    return;
  }
  invoke(handler, request);
}

process.on("beforeExit", () => {
  const listener = exitListener;
  exitListener = null;
  if (listener) listener();
});
process.on("uncaughtException", (error) => {
  if (current) current.fail(error);
  else log("ERROR", "Uncaught Exception", formatted(error));
});
process.on("unhandledRejection", (reason) => {
  const error = new runtimeErrors.UnhandledPromiseRejection(reason?.toString());
  if (current) current.fail(error);
  else log("ERROR", "Unhandled Promise Rejection", formatted(error));
});

process.chdir(codeDir);
try {
  handler = await loadHandler(codeDir, process.env._HANDLER ?? "");
} catch (error) {
  log("ERROR", "Init Error", formatted(error));
  initError = errorPayload(error);
}
// The Init phase is over: the invocation's timeout starts with the first request.
fs.writeSync(answerFd, `${JSON.stringify({ ready: true })}\n`);
setImmediate(next);
