// What Neon's endpoint sends when a client does NOT ask for raw text output
// (`Neon-Raw-Text-Output` absent or not "true"): bool as JSON true/false, int2/int4
// and float4/float8 as JSON numbers (NaN/±Infinity stay strings), json/jsonb parsed,
// arrays as JSON arrays of such values, everything else (int8, numeric, dates, …)
// as Postgres's text. The worker and the driver always ask for raw text; this exists
// so other clients of the local endpoint see what they would see on Neon.

const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const FLOAT4 = 700;
const FLOAT8 = 701;
const JSON_OID = 114;
const JSONB = 3802;

/** Array type OID → element type OID, for the built-in types a client is likely to
 *  meet. Arrays of other types come back as text, as non-array values do. */
const ARRAY_ELEMENT = {
  1000: BOOL, 1005: INT2, 1007: INT4, 1021: FLOAT4, 1022: FLOAT8, 199: JSON_OID, 3807: JSONB,
  1016: 20, 1231: 1700, 1009: 25, 1015: 1043, 1014: 1042, 1002: 18, 1003: 19,
  1001: 17, 1182: 1082, 1183: 1083, 1115: 1114, 1185: 1184, 1187: 1186, 2951: 2950,
  1041: 869, 651: 650, 1040: 829, 1028: 26,
};

export function toJsonValue(text, typeId) {
  if (text === null) return null;
  const element = ARRAY_ELEMENT[typeId];
  if (element !== undefined) return parseArray(text).map(function conv(v) {
    return Array.isArray(v) ? v.map(conv) : scalar(v, element);
  });
  return scalar(text, typeId);
}

function scalar(text, typeId) {
  if (text === null) return null;
  switch (typeId) {
    case BOOL:
      return text === 't';
    case INT2:
    case INT4:
      return Number.parseInt(text, 10);
    case FLOAT4:
    case FLOAT8: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case JSON_OID:
    case JSONB:
      return JSON.parse(text);
    default:
      return text;
  }
}

/**
 * Parses Postgres's array output (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`,
 * `[0:1]={1,2}`) into nested arrays of strings and nulls.
 */
export function parseArray(text) {
  let i = 0;
  if (text[0] === '[') {
    // Explicit lower bounds: "[0:1]={…}". The bounds carry no values.
    i = text.indexOf('=') + 1;
  }

  function parseLevel() {
    // text[i] === '{'
    i += 1;
    const out = [];
    if (text[i] === '}') {
      i += 1;
      return out;
    }
    for (;;) {
      if (text[i] === '{') {
        out.push(parseLevel());
      } else if (text[i] === '"') {
        i += 1;
        let value = '';
        while (text[i] !== '"') {
          if (i >= text.length) throw new Error('unterminated array element');
          if (text[i] === '\\') i += 1;
          value += text[i];
          i += 1;
        }
        i += 1;
        out.push(value);
      } else {
        const start = i;
        while (text[i] !== ',' && text[i] !== '}') {
          if (i >= text.length) throw new Error('unterminated array');
          i += 1;
        }
        const value = text.slice(start, i);
        out.push(value === 'NULL' ? null : value);
      }
      if (text[i] === ',') {
        i += 1;
        continue;
      }
      if (text[i] !== '}') throw new Error('malformed array');
      i += 1;
      return out;
    }
  }

  return parseLevel();
}
