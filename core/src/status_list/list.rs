//! The Status List itself (draft-ietf-oauth-status-list-20 §4): a byte array of 1, 2, 4 or
//! 8-bit statuses packed from the least significant bit, ZLIB-compressed, and its JSON (§4.2)
//! and CBOR (§4.3) forms.

use std::fmt;
use std::io::Read;

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{Result, StatusError};

/// Largest decompressed list accepted by default: 16 MiB (128 Mi one-bit entries), far above
/// any real list and far below what a zlib bomb would produce (ATTACKS SL-04).
pub const DEFAULT_MAX_LIST_BYTES: usize = 16 << 20;

/// The registered status values (§7.1). Other values are application-specific or reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// `0x00`: the token is valid.
    Valid,
    /// `0x01`: revoked, annulled, taken back, recalled or cancelled (permanent).
    Invalid,
    /// `0x02`: temporarily invalid.
    Suspended,
    /// Any other value (`0x03`, `0x0C`–`0x0F` application-specific; the rest reserved).
    Other(u8),
}

impl Status {
    /// The status of a raw value.
    #[must_use]
    pub fn from_value(v: u8) -> Self {
        match v {
            0 => Self::Valid,
            1 => Self::Invalid,
            2 => Self::Suspended,
            other => Self::Other(other),
        }
    }

    /// The raw value.
    #[must_use]
    pub fn value(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::Invalid => 1,
            Self::Suspended => 2,
            Self::Other(v) => v,
        }
    }

    /// Parses `VALID`, `INVALID`, `SUSPENDED` (any case) or a number 0–255.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "VALID" => Some(Self::Valid),
            "INVALID" | "REVOKED" => Some(Self::Invalid),
            "SUSPENDED" => Some(Self::Suspended),
            _ => s
                .strip_prefix("0x")
                .map_or_else(|| s.parse::<u8>().ok(), |h| u8::from_str_radix(h, 16).ok())
                .map(Self::from_value),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Valid => f.write_str("VALID"),
            Self::Invalid => f.write_str("INVALID"),
            Self::Suspended => f.write_str("SUSPENDED"),
            Self::Other(v) => write!(f, "0x{v:02X}"),
        }
    }
}

/// Bits per status: 1, 2, 4 or 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bits(u8);

impl Bits {
    /// Validates `bits` (§4.1).
    ///
    /// # Errors
    /// `status_list_invalid` for anything but 1, 2, 4 or 8 (ATTACKS SL-03).
    pub fn new(bits: u64) -> Result<Self> {
        match bits {
            1 | 2 | 4 | 8 => Ok(Self(u8::try_from(bits).unwrap_or(8))),
            _ => Err(StatusError::Invalid(format!("bits must be 1, 2, 4 or 8, not {bits}")).into()),
        }
    }

    /// The number of bits.
    #[must_use]
    pub fn get(self) -> u8 {
        self.0
    }

    fn per_byte(self) -> usize {
        usize::from(8 / self.0)
    }

    fn mask(self) -> u8 {
        u8::MAX >> (8 - self.0)
    }
}

/// A Status List: `len` statuses of `bits` bits each.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Bits,
    bytes: Vec<u8>,
    aggregation_uri: Option<String>,
}

impl fmt::Debug for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusList")
            .field("bits", &self.bits.0)
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl StatusList {
    /// A list of (at least) `size` statuses, all VALID. The byte array is rounded up to whole
    /// bytes, so the list can hold a few more statuses than asked for.
    ///
    /// # Errors
    /// `status_list_too_large` above [`DEFAULT_MAX_LIST_BYTES`].
    pub fn new(bits: Bits, size: usize) -> Result<Self> {
        let bytes = size.div_ceil(bits.per_byte());
        if bytes > DEFAULT_MAX_LIST_BYTES {
            return Err(StatusError::TooLarge(DEFAULT_MAX_LIST_BYTES).into());
        }
        Ok(Self {
            bits,
            bytes: vec![0; bytes],
            aggregation_uri: None,
        })
    }

    /// A list over an uncompressed byte array.
    #[must_use]
    pub fn from_bytes(bits: Bits, bytes: Vec<u8>) -> Self {
        Self {
            bits,
            bytes,
            aggregation_uri: None,
        }
    }

    /// Bits per status.
    #[must_use]
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// How many statuses the byte array holds (indices `0..capacity()`).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.bytes.len().saturating_mul(self.bits.per_byte())
    }

    /// The uncompressed byte array.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `aggregation_uri`, if any (§9).
    #[must_use]
    pub fn aggregation_uri(&self) -> Option<&str> {
        self.aggregation_uri.as_deref()
    }

    /// Sets the `aggregation_uri`.
    pub fn set_aggregation_uri(&mut self, uri: Option<String>) {
        self.aggregation_uri = uri;
    }

    fn locate(&self, idx: u64) -> Result<(usize, u8)> {
        let idx = usize::try_from(idx)
            .ok()
            .filter(|i| *i < self.capacity())
            .ok_or(StatusError::IndexOutOfRange {
                idx,
                capacity: self.capacity() as u64,
            })?;
        let per = self.bits.per_byte();
        // §4.1: entry i is in byte i / (8 / bits), at bit offset (i % (8 / bits)) * bits,
        // counted from the least significant bit.
        let shift = u8::try_from(idx % per).unwrap_or(0) * self.bits.0;
        Ok((idx / per, shift))
    }

    /// The raw status value at `idx`.
    ///
    /// # Errors
    /// `status_index_out_of_range` (ATTACKS SL-01).
    pub fn get(&self, idx: u64) -> Result<u8> {
        let (byte, shift) = self.locate(idx)?;
        let b = self.bytes.get(byte).copied().unwrap_or(0);
        Ok((b >> shift) & self.bits.mask())
    }

    /// The status at `idx`.
    ///
    /// # Errors
    /// As [`StatusList::get`].
    pub fn status(&self, idx: u64) -> Result<Status> {
        self.get(idx).map(Status::from_value)
    }

    /// Sets the status at `idx`.
    ///
    /// # Errors
    /// `status_index_out_of_range`; `status_list_invalid` for a value that does not fit
    /// `bits` (e.g. SUSPENDED in a 1-bit list).
    pub fn set(&mut self, idx: u64, status: Status) -> Result<()> {
        let v = status.value();
        if v > self.bits.mask() {
            return Err(StatusError::Invalid(format!(
                "status {status} does not fit in {} bit(s)",
                self.bits.0
            ))
            .into());
        }
        let (byte, shift) = self.locate(idx)?;
        if let Some(b) = self.bytes.get_mut(byte) {
            *b = (*b & !(self.bits.mask() << shift)) | (v << shift);
        }
        Ok(())
    }

    /// The ZLIB-compressed byte array (§4.1: DEFLATE in ZLIB format, best compression).
    #[must_use]
    pub fn compressed(&self) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = e.write_all(&self.bytes);
        e.finish().unwrap_or_default()
    }

    /// Decompresses a ZLIB stream (RFC 1950) into a list, producing at most `max_bytes`:
    /// a larger output is a bomb (SL-04); a stream with a preset dictionary, a bad checksum,
    /// truncated or followed by other bytes is invalid (SL-05). Every valid FLEVEL is
    /// accepted.
    ///
    /// # Errors
    /// `status_list_too_large`, `status_list_invalid`.
    pub fn decompress(bits: Bits, compressed: &[u8], max_bytes: usize) -> Result<Self> {
        let bad = |why: &str| StatusError::Invalid(format!("lst: {why}"));
        // RFC 1950 header: CM = 8 (deflate), CINFO <= 7, FCHECK, FDICT = 0.
        let (Some(&cmf), Some(&flg)) = (compressed.first(), compressed.get(1)) else {
            return Err(bad("not a ZLIB stream").into());
        };
        if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
            return Err(bad("not a ZLIB stream").into());
        }
        if flg & 0x20 != 0 {
            return Err(bad("a preset dictionary is not allowed").into());
        }
        let mut decoder = flate2::read::ZlibDecoder::new(compressed);
        let mut out = Vec::new();
        let limit = u64::try_from(max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        (&mut decoder)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|_| bad("corrupt ZLIB data"))?;
        if out.len() > max_bytes {
            return Err(StatusError::TooLarge(max_bytes).into());
        }
        // Everything must have been consumed, the checksum included (no trailing data).
        let consumed = decoder.total_in();
        if consumed != compressed.len() as u64 {
            return Err(bad("bytes after the ZLIB stream, or a truncated stream").into());
        }
        Ok(Self::from_bytes(bits, out))
    }

    /// The JSON form `{"bits": .., "lst": ..}` (§4.2).
    #[must_use]
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("bits".into(), self.bits.0.into());
        m.insert("lst".into(), b64::encode(&self.compressed()).into());
        if let Some(a) = &self.aggregation_uri {
            m.insert("aggregation_uri".into(), a.clone().into());
        }
        m
    }

    /// Parses the JSON form.
    ///
    /// # Errors
    /// `status_list_invalid` for a malformed object, `status_list_too_large`.
    pub fn from_json(obj: &Map<String, Value>, max_bytes: usize) -> Result<Self> {
        let bits = obj
            .get("bits")
            .and_then(Value::as_u64)
            .ok_or_else(|| StatusError::Invalid("bits must be a number".into()))?;
        let bits = Bits::new(bits)?;
        let lst = obj
            .get("lst")
            .and_then(Value::as_str)
            .ok_or_else(|| StatusError::Invalid("lst must be a string".into()))?;
        let compressed = b64::decode(lst, "lst")?;
        let mut list = Self::decompress(bits, &compressed, max_bytes)?;
        list.aggregation_uri = match obj.get("aggregation_uri") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(StatusError::Invalid("aggregation_uri must be a string".into()).into());
            }
        };
        Ok(list)
    }

    /// The CBOR form `{"bits": uint, "lst": bstr}` (§4.3), encoded.
    #[must_use]
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = ciborium::into_writer(&self.to_cbor_value(), &mut out);
        out
    }

    pub(crate) fn to_cbor_value(&self) -> ciborium::Value {
        use ciborium::Value as C;
        let mut m = vec![
            (C::Text("bits".into()), C::Integer(self.bits.0.into())),
            (C::Text("lst".into()), C::Bytes(self.compressed())),
        ];
        if let Some(a) = &self.aggregation_uri {
            m.push((C::Text("aggregation_uri".into()), C::Text(a.clone())));
        }
        C::Map(m)
    }

    /// Parses the CBOR form.
    ///
    /// # Errors
    /// `status_list_invalid`, `status_list_too_large`.
    pub fn from_cbor(bytes: &[u8], max_bytes: usize) -> Result<Self> {
        let v: ciborium::Value =
            ciborium::from_reader(bytes).map_err(|_| StatusError::Invalid("not CBOR".into()))?;
        Self::from_cbor_value(&v, max_bytes)
    }

    pub(crate) fn from_cbor_value(v: &ciborium::Value, max_bytes: usize) -> Result<Self> {
        use ciborium::Value as C;
        let C::Map(entries) = v else {
            return Err(StatusError::Invalid("a CBOR status list is a map".into()).into());
        };
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| matches!(key, C::Text(t) if t == k))
                .map(|(_, v)| v)
        };
        let bits = match get("bits") {
            Some(C::Integer(i)) => u64::try_from(*i).unwrap_or(0),
            _ => {
                return Err(StatusError::Invalid("bits must be an unsigned integer".into()).into());
            }
        };
        let Some(C::Bytes(lst)) = get("lst") else {
            return Err(StatusError::Invalid("lst must be a byte string".into()).into());
        };
        let mut list = Self::decompress(Bits::new(bits)?, lst, max_bytes)?;
        list.aggregation_uri = match get("aggregation_uri") {
            None => None,
            Some(C::Text(s)) => Some(s.clone()),
            Some(_) => {
                return Err(StatusError::Invalid("aggregation_uri must be text".into()).into());
            }
        };
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_4_1_examples() {
        // 1 bit: statuses at 0,3,4,5,7,8,9,13,15 = 0xB9 0xA3.
        let mut l = StatusList::new(Bits::new(1).unwrap(), 16).unwrap();
        for i in [0, 3, 4, 5, 7, 8, 9, 13, 15] {
            l.set(i, Status::Invalid).unwrap();
        }
        assert_eq!(l.as_bytes(), [0xB9, 0xA3]);
        assert_eq!(l.to_json()["lst"], "eNrbuRgAAhcBXQ");
        // 2 bits: [1,2,0,3,0,1,0,1,1,2,3,3] = 0xC9 0x44 0xF9.
        let mut l = StatusList::new(Bits::new(2).unwrap(), 12).unwrap();
        for (i, v) in [1u8, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
            .into_iter()
            .enumerate()
        {
            l.set(i as u64, Status::from_value(v)).unwrap();
        }
        assert_eq!(l.as_bytes(), [0xC9, 0x44, 0xF9]);
        assert_eq!(l.to_json()["lst"], "eNo76fITAAPfAgc");
    }

    #[test]
    fn values_must_fit() {
        let mut l = StatusList::new(Bits::new(1).unwrap(), 8).unwrap();
        assert_eq!(
            l.set(0, Status::Suspended).unwrap_err().code(),
            "status_list_invalid"
        );
        assert_eq!(
            l.set(8, Status::Invalid).unwrap_err().code(),
            "status_index_out_of_range"
        );
        assert_eq!(Bits::new(3).unwrap_err().code(), "status_list_invalid");
    }
}
