// freehold's Node.js runtime client: the next -> handle -> respond loop of the Lambda
// Runtime API, run inside a sandbox (node bootstrap.js). Handlers may be async, return a
// promise, or take a callback; modules may be CommonJS (.js, .cjs) or ES modules (.mjs).
// Response streaming as on AWS: the awslambda.streamifyResponse(handler) and
// awslambda.HttpResponseStream.from(stream, metadata) globals; a streaming handler's chunks
// are posted in the Runtime API's streaming mode (chunked, errors as trailers).
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
// https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html
'use strict';

const http = require('http');
const { Writable } = require('stream');
const path = require('path');
const fs = require('fs');
const util = require('util');
const { pathToFileURL } = require('url');

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const PREFIX = '/2018-06-01/runtime';
let currentRequestId = '';

function call(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const request = http.request({
      host, port, method, path: PREFIX + urlPath, agent,
      headers: { ...(headers || {}), ...(data ? { 'Content-Length': data.length } : {}) },
    }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    if (data) request.write(data);
    request.end();
  });
}

// console.* as on Lambda: timestamp, request id, level, message.
for (const [name, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[name] = (...args) => {
    const text = util.format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${text}\n`);
  };
}

function errorDocument(error, type) {
  const isError = error instanceof Error;
  return {
    errorType: type || (isError ? error.name : typeof error),
    errorMessage: isError ? error.message : String(error),
    trace: isError && error.stack ? error.stack.split('\n') : [],
  };
}

function postError(urlPath, document) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\tERROR\t${JSON.stringify(document)}\n`;
  process.stdout.write(line);
  return call('POST', urlPath, JSON.stringify(document), {
    'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': document.errorType,
  });
}

// -- response streaming ------------------------------------------------------------------------
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const ERROR_TYPE_TRAILER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

// The stream a streaming handler writes: its response POST opens at the first write (so that
// setContentType still counts before it) and every write goes out as one HTTP chunk.
class ResponseStream extends Writable {
  constructor(requestId) {
    super();
    this.requestId = requestId;
    this.contentType = 'application/octet-stream';
    this.request = null;
    this.prelude = null;
    this.failure = null;
    this.answered = new Promise((resolve, reject) => { this._answered = resolve; this._failed = reject; });
  }

  setContentType(contentType) {
    if (this.request) throw new Error('Tried to set content type after the stream started.');
    this.contentType = contentType;
  }

  getContentType() { return this.contentType; }

  _open() {
    if (this.request) return;
    this.request = http.request({
      host, port, method: 'POST', path: `${PREFIX}/invocation/${this.requestId}/response`, agent,
      headers: {
        'Content-Type': this.contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: `${ERROR_TYPE_TRAILER}, ${ERROR_BODY_TRAILER}`,
      },
    }, (response) => {
      response.resume();
      response.on('end', () => this._answered(response.statusCode));
    });
    this.request.on('error', (error) => this._failed(error));
    if (this.request.setNoDelay) this.request.setNoDelay(true);
    if (this.prelude !== null) {
      // HttpResponseStream.from: the JSON prelude, then 8 NUL bytes, then the body.
      this.request.write(this.prelude);
      this.request.write(Buffer.alloc(8));
    }
  }

  _write(chunk, encoding, callback) {
    this._open();
    this.request.write(chunk, callback);
  }

  _final(callback) {
    this._open();
    if (this.failure) {
      this.request.addTrailers({
        [ERROR_TYPE_TRAILER]: this.failure.errorType,
        [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(this.failure)).toString('base64'),
      });
    }
    this.request.end(() => callback());
  }

  // The handler failed: what was written stays sent, the error goes in the trailers.
  fail(document) {
    this.failure = document;
    if (!this.writableEnded) this.end();
  }
}

class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    stream.prelude = JSON.stringify(prelude); // JSON: no NUL byte can occur in it
    return stream;
  }
}

global.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream,
};

async function runStreaming(handler, event, context, requestId) {
  const stream = new ResponseStream(requestId);
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded) stream.end();
  } catch (error) {
    const document = errorDocument(error);
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\tERROR\t${JSON.stringify(document)}\n`);
    stream.fail(document);
  }
  await stream.answered;
}

async function loadHandler() {
  const spec = process.env._HANDLER || '';
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.lastIndexOf('.');
  if (dot < 1) {
    throw Object.assign(new Error(`Bad handler ${spec}`), { lambdaType: 'Runtime.MalformedHandlerName' });
  }
  const modulePath = spec.slice(0, dot);
  const functionPath = spec.slice(dot + 1);
  const base = path.resolve(taskRoot, modulePath);
  let module;
  const candidates = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).filter((file) => fs.existsSync(file));
  try {
    if (candidates.length === 0) {
      throw new Error(`Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/bootstrap.js`);
    }
    const file = candidates[0];
    module = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (error) {
    if (error.lambdaType) throw error;
    const wrapped = new Error(`${error.name}: ${error.message}`);
    wrapped.name = 'Runtime.ImportModuleError';
    wrapped.lambdaType = 'Runtime.ImportModuleError';
    wrapped.stack = error.stack;
    if (error instanceof SyntaxError) wrapped.lambdaType = 'Runtime.UserCodeSyntaxError';
    throw wrapped;
  }
  let handler = module;
  for (const part of functionPath.split('.')) handler = handler ? handler[part] : undefined;
  if (typeof handler !== 'function' && module && module.default) {
    handler = module.default[functionPath];
  }
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${spec} is undefined or not exported`), { lambdaType: 'Runtime.HandlerNotFound' });
  }
  return handler;
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== null && error !== undefined) reject(error); else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error || new Error('handled'));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === 'function') {
        returned.then((value) => callback(null, value), (error) => callback(error === undefined ? new Error('undefined') : error));
      } else if (handler.length < 3) {
        callback(null, returned);
      }
    } catch (error) {
      callback(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    const document = errorDocument(error, error.lambdaType);
    if (error.lambdaType) document.errorType = error.lambdaType;
    await postError('/init/error', document);
    process.exit(1);
  }
  for (;;) {
    const { headers, body } = await call('GET', '/invocation/next');
    const requestId = headers['lambda-runtime-aws-request-id'];
    currentRequestId = requestId;
    if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: headers['lambda-runtime-client-context'] ? JSON.parse(headers['lambda-runtime-client-context']) : undefined,
      identity: headers['lambda-runtime-cognito-identity'] ? JSON.parse(headers['lambda-runtime-cognito-identity']) : undefined,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let event;
    try {
      event = body.length ? JSON.parse(body.toString('utf8')) : null;
    } catch (error) {
      await postError(`/invocation/${requestId}/error`, errorDocument(error, 'Runtime.UnmarshalError'));
      continue;
    }
    if (handler[STREAMING] === 'response') {
      await runStreaming(handler, event, context, requestId);
      continue;
    }
    try {
      const result = await runHandler(handler, event, context);
      const payload = result === undefined ? 'null' : JSON.stringify(result);
      await call('POST', `/invocation/${requestId}/response`, payload, { 'Content-Type': 'application/json' });
    } catch (error) {
      await postError(`/invocation/${requestId}/error`, errorDocument(error));
    }
  }
}

main().catch((error) => {
  process.stdout.write(`freehold runtime client failed: ${error && error.stack}\n`);
  process.exit(1);
});
