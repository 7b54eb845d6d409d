// A digitpad .onnx file's own description, read from the file's bytes: the metadata entry
// "digitpad" (JSON: version, input, normalization, labels...) that the server's Predictor reads.
//
//   const metadata = modelMetadata(bytes);   // Uint8Array of the .onnx -> the parsed JSON
//
// Reading it from the bytes the device runs, rather than fetching it beside them, makes the
// weights and their description one unit: a cached int8 model can never run under the float
// model's metadata, whatever else the cache or a replica mid-deploy answers.
//
// An ONNX file is a protobuf ModelProto; its metadata_props are field 14, each a
// StringStringEntryProto (key: field 1, value: field 2). Only the top level is walked: the
// graph (field 7, most of the file) is skipped by its length.

const METADATA_PROPS = 14;
export const METADATA_KEY = "digitpad";

function varint(bytes, pos) {
  let value = 0, scale = 1, b;
  do {
    if (pos >= bytes.length) throw new Error("not an ONNX file (truncated)");
    b = bytes[pos++];
    value += (b & 0x7f) * scale;   // (numbers, not bit operations: lengths may pass 2^31)
    scale *= 128;
  } while (b & 0x80);
  return [value, pos];
}

/** The fields of one protobuf message: calls visit(field, bytes) for each length-delimited one. */
function walk(bytes, visit) {
  let pos = 0;
  while (pos < bytes.length) {
    let key, len;
    [key, pos] = varint(bytes, pos);
    const field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) [, pos] = varint(bytes, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      [len, pos] = varint(bytes, pos);
      if (pos + len > bytes.length) throw new Error("not an ONNX file (truncated)");
      visit(field, bytes.subarray(pos, pos + len));
      pos += len;
    } else throw new Error(`not an ONNX file (wire type ${wire})`);
  }
}

/** Every metadata_props entry of an ONNX file: {key: value}. */
export function onnxMetadata(bytes) {
  const text = new TextDecoder();
  const props = {};
  walk(bytes, (field, entry) => {
    if (field !== METADATA_PROPS) return;
    let key = "", value = "";
    walk(entry, (f, s) => {
      if (f === 1) key = text.decode(s);
      else if (f === 2) value = text.decode(s);
    });
    props[key] = value;
  });
  return props;
}

/** The digitpad description of a model file's bytes (throws when it has none). */
export function modelMetadata(bytes) {
  const raw = onnxMetadata(bytes)[METADATA_KEY];
  if (raw === undefined) throw new Error("the model file has no digitpad metadata");
  return JSON.parse(raw);
}
