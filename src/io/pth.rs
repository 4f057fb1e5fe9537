//! Reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format, from bytes, so that the
//! browser can load checkpoints such as EfficientNet-Lite0's without Python or a file system.
//!
//! The layout is five pickles in a row — magic number, protocol version, system info, the saved
//! object (tensors refer to storages by persistent id), the list of storage keys — followed by
//! each storage in that order as an 8-byte little-endian element count and the raw elements.
//! A small pickle machine covering what `torch.save` emits (protocol 2) rebuilds the tensors;
//! views are honoured (offset and strides: converted TensorFlow checkpoints store permuted views),
//! and every index is bounds-checked, so a damaged file is an error, never a panic. Values are
//! shared (`Rc`) rather than copied when the pickle reuses them, nesting depth is bounded, and
//! copies forced by mutating a shared container count against a budget, so that a hostile file
//! can exhaust neither memory nor the stack.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::io::WeightMap;

const MAGIC: &[u8] = &[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

fn bad(message: impl std::fmt::Display) -> Error {
    Error::Weights(format!("PyTorch checkpoint: {message}"))
}

/// Deepest nesting of tuples, lists and dicts accepted (a state dict needs 3).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Mark,
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64 (the legacy magic number), as little-endian bytes.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Tuple(Rc<Items>),
    List(Rc<Items>),
    /// Keys and values alternating.
    Dict(Rc<Items>),
    Global(Rc<str>, Rc<str>),
    Storage(Rc<Storage>),
    Tensor(Rc<TensorRef>),
    /// The result of a call we have no use for.
    Opaque,
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Value::Tuple(items) | Value::List(items) | Value::Dict(items) => items.depth,
            _ => 0,
        }
    }
}

/// The contents of a tuple, list or dict, with its nesting depth.
#[derive(Debug, Clone, PartialEq, Default)]
struct Items {
    values: Vec<Value>,
    depth: usize,
}

fn items(values: Vec<Value>) -> Result<Rc<Items>> {
    let depth = 1 + values.iter().map(Value::depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(bad("pickle nested too deeply"));
    }
    Ok(Rc::new(Items { values, depth }))
}

#[derive(Debug, Clone, PartialEq)]
struct Storage {
    key: Rc<str>,
    /// Bytes per element, from the storage type.
    element: usize,
    float32: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage: Rc<Storage>,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| bad(format!("truncated at byte {}", self.pos)))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn line(&mut self) -> Result<Rc<str>> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("unterminated GLOBAL"))?;
        let s = utf8(self.take(n)?)?;
        self.pos += 1;
        Ok(s)
    }
}

fn utf8(b: &[u8]) -> Result<Rc<str>> {
    std::str::from_utf8(b)
        .map(Rc::from)
        .map_err(|_| bad("string is not UTF-8"))
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(bad(format!("expected an integer, found {other:?}"))),
    }
}

fn usize_of(v: &Value) -> Result<usize> {
    usize::try_from(int(v)?).map_err(|_| bad("negative size"))
}

fn usizes(v: &Value) -> Result<Vec<usize>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.values.iter().map(usize_of).collect(),
        other => Err(bad(format!("expected a tuple of sizes, found {other:?}"))),
    }
}

/// Bytes per element and whether it is f32, from a storage class such as `torch.FloatStorage`.
fn storage_type(v: &Value) -> Result<(usize, bool)> {
    let Value::Global(module, name) = v else {
        return Err(bad(format!("storage type {v:?}")));
    };
    let element = match &**name {
        "DoubleStorage" | "LongStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" => 1,
        _ => return Err(bad(format!("unsupported storage type {module}.{name}"))),
    };
    Ok((element, &**name == "FloatStorage"))
}

/// Applies a callable (REDUCE / NEWOBJ) to its arguments.
fn call(callable: Value, args: Value) -> Result<Value> {
    let Value::Tuple(args) = args else {
        return Err(bad("call arguments are not a tuple"));
    };
    let Value::Global(module, name) = &callable else {
        return Ok(Value::Opaque);
    };
    match (&**module, &**name) {
        ("collections", "OrderedDict") => Ok(Value::Dict(Rc::default())),
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
            let [storage, offset, shape, stride, ..] = args.values.as_slice() else {
                return Err(bad("_rebuild_tensor with too few arguments"));
            };
            let Value::Storage(storage) = storage else {
                return Err(bad("tensor without a storage"));
            };
            Ok(Value::Tensor(Rc::new(TensorRef {
                storage: storage.clone(),
                offset: usize_of(offset)?,
                shape: usizes(shape)?,
                stride: usizes(stride)?,
            })))
        }
        ("torch._utils", "_rebuild_parameter") => args
            .values
            .first()
            .cloned()
            .ok_or_else(|| bad("_rebuild_parameter without a tensor")),
        _ => Ok(Value::Opaque),
    }
}

/// Appends `new` to the container on top of the stack, copying it first if it is shared (such
/// copies are paid for from `budget`, in values).
fn extend(target: &mut Rc<Items>, new: Vec<Value>, budget: &mut usize) -> Result<()> {
    if Rc::strong_count(target) > 1 {
        *budget = budget
            .checked_sub(target.values.len())
            .ok_or_else(|| bad("pickle copies too much"))?;
    }
    let depth = new.iter().map(|v| v.depth() + 1).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(bad("pickle nested too deeply"));
    }
    let items = Rc::make_mut(target);
    items.depth = items.depth.max(depth);
    items.values.extend(new);
    Ok(())
}

/// The value a literal-pushing opcode reads (None, booleans, ints, floats, strings, empty
/// containers); `None` for any other opcode.
fn literal(op: u8, cur: &mut Cursor<'_>) -> Result<Option<Value>> {
    Ok(Some(match op {
        b'N' => Value::None,
        0x88 => Value::Bool(true),
        0x89 => Value::Bool(false),
        b'K' => Value::Int(i64::from(cur.u8()?)),
        b'M' => {
            let b = cur.take(2)?;
            Value::Int(i64::from(u16::from_le_bytes([b[0], b[1]])))
        }
        b'J' => {
            let b = cur.take(4)?;
            Value::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        }
        0x8a => {
            let n = usize::from(cur.u8()?);
            let b = cur.take(n)?;
            if n <= 8 {
                let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut w = [fill; 8];
                w[..n].copy_from_slice(b);
                Value::Int(i64::from_le_bytes(w))
            } else {
                Value::BigInt(Rc::from(b))
            }
        }
        b'G' => {
            let b = cur.take(8)?;
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            Value::Float(f64::from_be_bytes(w))
        }
        b'X' | b'T' => {
            let n = cur.u32()?;
            Value::Str(utf8(cur.take(n)?)?)
        }
        0x8c | b'U' => {
            let n = usize::from(cur.u8()?);
            Value::Str(utf8(cur.take(n)?)?)
        }
        b'}' => Value::Dict(Rc::default()),
        b']' => Value::List(Rc::default()),
        b')' => Value::Tuple(Rc::default()),
        _ => return Ok(None),
    }))
}

/// Runs one pickle from `cur` to its STOP and returns the object.
fn unpickle(cur: &mut Cursor<'_>) -> Result<Value> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: BTreeMap<usize, Value> = BTreeMap::new();
    // A legitimate pickle copies next to nothing; a hostile one could copy quadratically.
    let mut budget = cur.bytes.len().saturating_mul(2).saturating_add(4096);
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| bad("stack underflow"));
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>> {
        let at = stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| bad("no MARK on the stack"))?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        let op = cur.u8()?;
        if let Some(value) = literal(op, cur)? {
            stack.push(value);
            continue;
        }
        match op {
            0x80 => {
                cur.u8()?; // PROTO
            }
            b'.' => return pop(&mut stack),
            b'(' => stack.push(Value::Mark),
            b't' => {
                let values = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items(values)?));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let at = stack
                    .len()
                    .checked_sub(n)
                    .ok_or_else(|| bad("stack underflow"))?;
                let values = stack.split_off(at);
                stack.push(Value::Tuple(items(values)?));
            }
            b'q' => {
                let i = usize::from(cur.u8()?);
                memo.insert(i, stack.last().cloned().ok_or_else(|| bad("empty stack"))?);
            }
            b'r' => {
                let i = cur.u32()?;
                memo.insert(i, stack.last().cloned().ok_or_else(|| bad("empty stack"))?);
            }
            0x94 => {
                let i = memo.len();
                memo.insert(i, stack.last().cloned().ok_or_else(|| bad("empty stack"))?);
            }
            b'h' | b'j' => {
                let i = if op == b'h' {
                    usize::from(cur.u8()?)
                } else {
                    cur.u32()?
                };
                let v = memo
                    .get(&i)
                    .cloned()
                    .ok_or_else(|| bad(format!("memo {i} unset")))?;
                stack.push(v);
            }
            b'c' => {
                let module = cur.line()?;
                let name = cur.line()?;
                stack.push(Value::Global(module, name));
            }
            b'R' | 0x81 => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(call(callable, args)?);
            }
            b'b' => {
                pop(&mut stack)?; // BUILD: object state (e.g. a state dict's `_metadata`)
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(persistent(pid)?);
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop(&mut stack)?;
                    let k = pop(&mut stack)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                if items.len() % 2 != 0 {
                    return Err(bad("SETITEMS with a key but no value"));
                }
                let Some(Value::Dict(dict)) = stack.last_mut() else {
                    return Err(bad("SETITEM on a non-dict"));
                };
                extend(dict, items, &mut budget)?;
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                let Some(Value::List(list)) = stack.last_mut() else {
                    return Err(bad("APPEND on a non-list"));
                };
                extend(list, items, &mut budget)?;
            }
            other => {
                return Err(bad(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    cur.pos - 1
                )))
            }
        }
    }
}

/// `('storage', storage_type, key, location, numel[, view_metadata])` → a storage reference.
fn persistent(pid: Value) -> Result<Value> {
    let Value::Tuple(items) = pid else {
        return Err(bad("persistent id is not a tuple"));
    };
    match items.values.as_slice() {
        [Value::Str(kind), ty, Value::Str(key), ..] if &**kind == "storage" => {
            let (element, float32) = storage_type(ty)?;
            Ok(Value::Storage(Rc::new(Storage {
                key: key.clone(),
                element,
                float32,
            })))
        }
        _ => Err(bad("unknown persistent id")),
    }
}

/// Every f32 tensor of a legacy `torch.save` state dict, by name, with its shape (logical, row
/// major); tensors of other dtypes (such as batch-norm step counters) are left out.
pub fn read_pth_f32(bytes: &[u8]) -> Result<WeightMap> {
    let mut cur = Cursor { bytes, pos: 0 };
    match unpickle(&mut cur) {
        Ok(Value::BigInt(b)) if *b == *MAGIC => {}
        _ => return Err(bad(
            "not a legacy torch.save file (bad magic number; zip checkpoints are not read here)",
        )),
    }
    if int(&unpickle(&mut cur)?)? != PROTOCOL_VERSION {
        return Err(bad("unsupported protocol version"));
    }
    if let Value::Dict(info) = unpickle(&mut cur)? {
        let little = Value::Str("little_endian".into());
        let mut pairs = info.values.chunks_exact(2);
        if pairs.any(|kv| kv[0] == little && kv[1] == Value::Bool(false)) {
            return Err(bad("big-endian checkpoints are not supported"));
        }
    }
    let Value::Dict(entries) = unpickle(&mut cur)? else {
        return Err(bad("the saved object is not a state dict"));
    };
    let Value::List(keys) = unpickle(&mut cur)? else {
        return Err(bad("storage key list missing"));
    };

    // Storage blobs follow in key order: 8-byte element count, then the elements.
    let mut sizes: BTreeMap<Rc<str>, usize> = BTreeMap::new();
    for v in &entries.values {
        if let Value::Tensor(t) = v {
            sizes.insert(t.storage.key.clone(), t.storage.element);
        }
    }
    let mut blobs: BTreeMap<Rc<str>, &[u8]> = BTreeMap::new();
    for key in &keys.values {
        let Value::Str(key) = key else {
            return Err(bad("storage key is not a string"));
        };
        let b = cur.take(8)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        let numel = usize::try_from(u64::from_le_bytes(w)).map_err(|_| bad("storage too big"))?;
        let element = *sizes
            .get(key)
            .ok_or_else(|| bad(format!("storage {key} is used by no tensor")))?;
        let len = numel
            .checked_mul(element)
            .ok_or_else(|| bad("storage too big"))?;
        blobs.insert(key.clone(), cur.take(len)?);
    }

    let mut out = WeightMap::new();
    for kv in entries.values.chunks_exact(2) {
        let (Value::Str(name), Value::Tensor(t)) = (&kv[0], &kv[1]) else {
            continue;
        };
        if !t.storage.float32 {
            continue;
        }
        let blob = blobs
            .get(&t.storage.key)
            .ok_or_else(|| bad(format!("'{name}': storage {} missing", t.storage.key)))?;
        let data = gather(blob, t).map_err(|e| bad(format!("'{name}': {e}")))?;
        out.insert(name.to_string(), (t.shape.clone(), data));
    }
    Ok(out)
}

/// Copies a (possibly strided) f32 view out of its storage into row-major order.
fn gather(blob: &[u8], t: &TensorRef) -> std::result::Result<Vec<f32>, String> {
    if t.shape.len() != t.stride.len() {
        return Err("shape and stride ranks differ".into());
    }
    let numel = blob.len() / 4;
    let count = t
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("tensor too big")?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| x.checked_add(a))
        })
        .ok_or("view out of range")?;
    if last >= numel {
        return Err(format!(
            "view reaches element {last} of a {numel}-element storage"
        ));
    }
    let at = |i: usize| {
        let b = &blob[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let mut out = Vec::with_capacity(count);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..count {
        let flat = t.offset
            + index
                .iter()
                .zip(&t.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        out.push(at(flat));
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(out)
}

/// A legacy checkpoint with one f32 tensor `w` of shape `shape` viewing `storage` with
/// `stride`, written the way `torch.save` (protocol 2) does: for tests and fuzzing seeds.
#[doc(hidden)]
pub fn legacy_checkpoint(
    name: &str,
    shape: &[usize],
    stride: &[usize],
    storage: &[f32],
) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.push(b'X');
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
    }
    fn tuple(out: &mut Vec<u8>, xs: &[usize]) {
        out.push(b'(');
        for &x in xs {
            out.push(b'J');
            out.extend((x as i32).to_le_bytes());
        }
        out.push(b't');
    }
    let mut out = vec![0x80, 2, 0x8a, 10];
    out.extend(MAGIC);
    out.push(b'.');
    out.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']);
    out.extend([0x80, 2, b'}', b'(']);
    string(&mut out, "little_endian");
    out.extend([0x88, b'u', b'.']);
    // state dict: OrderedDict() then SETITEMS with one rebuilt tensor.
    out.extend([0x80, 2]);
    out.extend(b"ccollections\nOrderedDict\nq\x00)Rq\x01(");
    string(&mut out, name);
    out.extend(b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((");
    string(&mut out, "storage");
    out.extend(b"ctorch\nFloatStorage\nq\x03");
    string(&mut out, "7");
    string(&mut out, "cpu");
    out.push(b'J');
    out.extend((storage.len() as i32).to_le_bytes());
    out.extend(b"NtQK\x00");
    tuple(&mut out, shape);
    tuple(&mut out, stride);
    out.extend(b"\x89h\x00)RtR");
    // Memoised OrderedDict reused as the hooks argument above: `h\x00` is the GLOBAL.
    out.extend(b"u.");
    out.extend([0x80, 2, b']', b'(']);
    string(&mut out, "7");
    out.extend([b'e', b'.']);
    out.extend((storage.len() as u64).to_le_bytes());
    for x in storage {
        out.extend(x.to_le_bytes());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use super::legacy_checkpoint;

    #[test]
    fn reads_a_strided_view_in_logical_order() {
        // A 2×3 tensor stored transposed (column-major): stride (1, 2).
        let bytes = legacy_checkpoint("w", &[2, 3], &[1, 2], &[1., 4., 2., 5., 3., 6.]);
        let map = read_pth_f32(&bytes).unwrap();
        assert_eq!(map["w"], (vec![2, 3], vec![1., 2., 3., 4., 5., 6.]));
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = legacy_checkpoint("w", &[2, 3], &[1, 2], &[1., 4., 2., 5., 3., 6.]);
        for cut in [0, 5, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(read_pth_f32(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // A view reaching past its storage.
        let bytes = legacy_checkpoint("w", &[2, 3], &[3, 2], &[1., 4., 2., 5., 3., 6.]);
        let err = read_pth_f32(&bytes).unwrap_err();
        assert_eq!(err.code(), "BAD_WEIGHTS", "{err}");
        assert!(read_pth_f32(b"PK\x03\x04 zip").is_err());
    }

    #[test]
    fn hostile_pickles_are_refused_not_obeyed() {
        let run = |body: &[u8]| {
            let mut bytes = vec![0x80, 2];
            bytes.extend(body);
            bytes.push(b'.');
            unpickle(&mut Cursor {
                bytes: &bytes,
                pos: 0,
            })
        };
        // 10 000 nested one-element tuples.
        let mut deep = vec![b')'];
        deep.extend(std::iter::repeat_n(0x85, 10_000));
        assert!(run(&deep).is_err());
        // A list grown through the memo, each step copying it: quadratic without the budget.
        let mut copies = b"]q\x00".to_vec();
        for _ in 0..20_000 {
            copies.extend(b"h\x00K\x01aq\x00");
        }
        let err = run(&copies).unwrap_err();
        assert!(err.to_string().contains("copies too much"), "{err}");
        // Shared, not copied: the same list fetched many times is fine.
        let mut shared = b"]q\x00(".to_vec();
        for _ in 0..20_000 {
            shared.extend(b"h\x00");
        }
        shared.push(b't');
        assert!(matches!(run(&shared), Ok(Value::Tuple(t)) if t.values.len() == 20_000));
    }
}
