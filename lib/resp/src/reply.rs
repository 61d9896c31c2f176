//! Encoding replies.

use alloc::vec::Vec;

/// Appends RESP2 replies to a buffer.
#[derive(Debug)]
pub struct Reply<'a>(pub &'a mut Vec<u8>);

fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Reply<'_> {
    /// `+text` (text must not contain CR or LF; they are replaced by spaces).
    pub fn simple(&mut self, text: &str) {
        self.0.push(b'+');
        self.0.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.0.extend_from_slice(b"\r\n");
    }

    /// `-message` (the same rule as `simple`).
    pub fn error(&mut self, message: &str) {
        self.0.push(b'-');
        self.0.extend(message.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.0.extend_from_slice(b"\r\n");
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        self.0.push(b':');
        if n < 0 {
            self.0.push(b'-');
        }
        push_decimal(self.0, n.unsigned_abs());
        self.0.extend_from_slice(b"\r\n");
    }

    /// `$len bytes` or the null bulk string `$-1`.
    pub fn bulk(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.0.extend_from_slice(b"$-1\r\n"),
            Some(v) => {
                self.0.push(b'$');
                push_decimal(self.0, v.len() as u64);
                self.0.extend_from_slice(b"\r\n");
                self.0.extend_from_slice(v);
                self.0.extend_from_slice(b"\r\n");
            }
        }
    }

    /// `*n`, to be followed by `n` replies.
    pub fn array(&mut self, n: usize) {
        self.0.push(b'*');
        push_decimal(self.0, n as u64);
        self.0.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut out = Vec::new();
        let mut r = Reply(&mut out);
        r.simple("OK");
        r.error("ERR bad\r\nthing");
        r.integer(-42);
        r.integer(0);
        r.bulk(Some(b"hi"));
        r.bulk(None);
        r.array(2);
        assert_eq!(out, b"+OK\r\n-ERR bad  thing\r\n:-42\r\n:0\r\n$2\r\nhi\r\n$-1\r\n*2\r\n");
    }
}
