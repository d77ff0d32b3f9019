//! Framing of the log file: each record is `u32 len (LE) | u32 crc32 (LE) | len payload bytes`.
//!
//! Decoding stops at the first record that is incomplete or fails its checksum: that is the
//! torn tail of a write that never completed (nothing after it was acknowledged, because the
//! flush callback only runs after `sync_data`).

/// Records larger than this are treated as garbage (a torn length prefix), not allocated.
const MAX_RECORD: usize = 64 * 1024 * 1024;
const HEADER: usize = 8;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) lookup table, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE) of `data`.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Appends one framed record holding `payload` to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| (*l as usize) <= MAX_RECORD)
        .ok_or_else(|| {
            std::io::Error::other(format!("log record too large: {} bytes", payload.len()))
        })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// The intact records at the start of `buf`, and the byte length they cover. Anything past
/// that length is a torn or corrupt tail.
pub(crate) fn decode_all(buf: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(header) = buf.get(pos..pos + HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = buf.get(pos + HEADER..pos + HEADER + len) else {
            break;
        };
        if crc32(payload) != crc {
            break;
        }
        records.push(payload);
        pos += HEADER + len;
    }
    (records, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_vector() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn torn_tail_is_dropped() {
        let mut buf = Vec::new();
        encode(b"one", &mut buf).unwrap();
        encode(b"two", &mut buf).unwrap();
        let whole = buf.len();
        encode(b"three", &mut buf).unwrap();
        let (recs, good) = decode_all(&buf[..buf.len() - 2]);
        assert_eq!(recs, vec![&b"one"[..], &b"two"[..]]);
        assert_eq!(good, whole);

        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xFF;
        let (recs, good) = decode_all(&flipped);
        assert_eq!(recs.len(), 2);
        assert_eq!(good, whole);

        let (recs, good) = decode_all(&buf[..3]);
        assert!(recs.is_empty());
        assert_eq!(good, 0);
    }
}
