// The TypeScript lane of the emulator's conformance suite.
//
// Reads the case table (written by tests/emulator/conformance.py) from the JSON file named on
// the command line, runs every case through @anthropic-ai/sdk (raw cases through fetch), and
// prints one JSON object on stdout: {sdk_version, files, results: {case id: result}}. The
// Python test judges the results with the same checks as the Python lane's.
//
// Run from a folder where `npm install @anthropic-ai/sdk` was done, so the import resolves.

import { readFileSync } from 'node:fs';
import Anthropic, { toFile } from '@anthropic-ai/sdk';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const blobs = Object.fromEntries(
  Object.entries(input.blobs).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]),
);
const files = {};

function fill(value) {
  if (Array.isArray(value)) return value.map(fill);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$b64') return blobs[value.$b64].toString('base64');
    if (keys.length === 1 && keys[0] === '$file') return files[value.$file];
    return Object.fromEntries(keys.map((k) => [k, fill(value[k])]));
  }
  return value;
}

function client(server, options = {}) {
  return new Anthropic({
    baseURL: input.servers[server],
    apiKey: options.api_key ?? 'test-key',
    maxRetries: 0,
    defaultHeaders: options.headers ?? {},
    dangerouslyAllowBrowser: Boolean(options.browser),
  });
}

function headersOf(headers) {
  const out = {};
  if (headers) headers.forEach((value, name) => (out[name.toLowerCase()] = value));
  return out;
}

async function upload(sdk, spec) {
  const file = await toFile(blobs[spec.blob], spec.filename, { type: spec.mime });
  const params = { file };
  if (spec.expires_in_seconds !== undefined) params.expires_in_seconds = spec.expires_in_seconds;
  return sdk.files.upload(params);
}

async function setup() {
  for (const [server, steps] of Object.entries(input.setup)) {
    const sdk = client(server);
    for (const step of steps) {
      if (step.op === 'upload') files[step.as] = (await upload(sdk, step)).id;
      else if (step.op === 'delete') await sdk.files.delete(files[step.file]);
      else if (step.op === 'batch')
        files[step.as] = (await sdk.messages.batches.create({ requests: input.batch_requests })).id;
      else if (step.op === 'admin')
        await fetch(input.servers[server] + step.path, {
          method: step.method,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(step.json),
        });
    }
  }
}

async function sdkCase(c, args) {
  const sdk = client(c.server, c.client);
  const calls = {
    'files.upload': () =>
      toFile(blobs[args.file.blob], args.file.filename, { type: args.file.mime }).then((file) =>
        sdk.files.upload({ file }).withResponse(),
      ),
    'files.list': () => sdk.files.list(args).withResponse(),
    'files.retrieve_metadata': () => sdk.files.retrieveMetadata(args.file_id).withResponse(),
    'files.delete': () => sdk.files.delete(args.file_id).withResponse(),
    'files.download': () => sdk.files.download(args.file_id).withResponse(),
    // extra_body: fields the SDK's types do not name, sent in the body as the Python SDK does
    'messages.create': () => {
      const { extra_body: extra, ...params } = args;
      return sdk.messages.create({ ...params, ...extra }).withResponse();
    },
    'messages.count_tokens': () => sdk.messages.countTokens(args).withResponse(),
    'models.list': () => sdk.models.list(args).withResponse(),
    'models.retrieve': () => sdk.models.retrieve(args.model_id).withResponse(),
    'messages.batches.create': () => sdk.messages.batches.create(args).withResponse(),
    'messages.batches.list': () => sdk.messages.batches.list(args).withResponse(),
    'messages.batches.retrieve': () =>
      sdk.messages.batches.retrieve(args.message_batch_id).withResponse(),
    'messages.batches.cancel': () => sdk.messages.batches.cancel(args.message_batch_id).withResponse(),
    'messages.batches.delete': () => sdk.messages.batches.delete(args.message_batch_id).withResponse(),
  };
  try {
    const { data, response } = await calls[c.op]();
    let body = data;
    if (c.op === 'files.download') body = { bytes: (await data.arrayBuffer()).byteLength };
    else if (c.op === 'files.list') body = { data: data.data, next_page: data.next_page ?? null };
    else if (c.op === 'models.list' || c.op === 'messages.batches.list') {
      const { has_more, first_id, last_id } = data;
      body = { data: data.data, has_more, first_id, last_id };
    }
    return {
      status: response.status,
      class: null,
      body: JSON.parse(JSON.stringify(body)),
      headers: headersOf(response.headers),
      sdk: { request_id: data?._request_id ?? null, workspace_id: data?._workspace_id ?? null },
    };
  } catch (err) {
    if (!(err instanceof Anthropic.APIError)) throw err;
    return {
      status: err.status ?? null,
      class: err.name,
      body: err.error ?? null,
      headers: headersOf(err.headers),
      sdk: { request_id: err.requestID ?? null, workspace_id: err.workspaceID ?? null },
    };
  }
}

async function rawCase(c, args) {
  const headers = args.key === null ? {} : { 'x-api-key': 'test-key' };
  Object.assign(headers, args.headers ?? {});
  const init = { method: args.method, headers };
  const body = args.body ?? {};
  if (body.blob) init.body = blobs[body.blob];
  else if (body.chunked_blob) {
    const data = blobs[body.chunked_blob];
    init.body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < data.length; i += 1000) controller.enqueue(data.subarray(i, i + 1000));
        controller.close();
      },
    });
    init.duplex = 'half'; // a stream of unknown length: sent chunked
  }
  const response = await fetch(input.servers[c.server] + args.path, init);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return {
    status: response.status,
    class: null,
    body: parsed,
    headers: headersOf(response.headers),
  };
}

async function main() {
  await setup();
  const results = {};
  for (const c of input.cases) {
    try {
      const args = fill(c.args);
      results[c.id] = c.op === 'raw' ? await rawCase(c, args) : await sdkCase(c, args);
    } catch (err) {
      results[c.id] = { lane_error: `${err?.name}: ${err?.message}` };
    }
  }
  const { VERSION } = await import('@anthropic-ai/sdk/version');
  process.stdout.write(JSON.stringify({ sdk_version: VERSION, files, results }));
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
