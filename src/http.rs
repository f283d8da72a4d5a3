//! Just enough HTTP/1.1 to serve one file to curl, wget or a browser, and to fetch it back:
//! recognising a complete request head under a size limit, judging it, one byte range
//! (RFC 9110 §14), and writing response heads.
//!
//! The request target is only ever compared with `/` and `/<file name>`: it never reaches the
//! file system, so `..`, `%2e%2e` or absolute paths can at most earn a 404.

use std::time::Duration;

use nix::errno::Errno;

use crate::escape::escape;

/// Largest request head accepted; larger gets 431.
pub const MAX_HEAD: usize = 8 << 10;
/// Time a client has to send a complete request head; after it, 408.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP status copylab can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(200);
    pub const PARTIAL_CONTENT: Status = Status(206);
    pub const BAD_REQUEST: Status = Status(400);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const RANGE_NOT_SATISFIABLE: Status = Status(416);
    pub const HEADERS_TOO_LARGE: Status = Status(431);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    pub fn reason(self) -> &'static str {
        match self.0 {
            200 => "OK",
            206 => "Partial Content",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            416 => "Range Not Satisfiable",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "Error",
        }
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send the file (`head_only` for HEAD: the head without the body), or the part of it
    /// `range` asks for.
    Serve { head_only: bool, range: RangeAsk },
    /// Answer with this error status and a one-line explanation.
    Refuse(Status, String),
}

/// How reading a request head ended without a complete head.
#[derive(Debug)]
pub enum HeadError {
    /// More than [`MAX_HEAD`] bytes without the blank line.
    TooLarge,
    /// [`HEAD_TIMEOUT`] passed.
    Timeout,
    /// The client closed the connection (after this many bytes).
    Closed(usize),
    /// The server is stopping (Ctrl-C) before the head was complete.
    Stopped,
    Io(Errno),
}

/// After more bytes were appended to `buf`: the complete head (through its blank line; bytes
/// after it are dropped, as copylab answers one request per connection), `TooLarge` past
/// [`MAX_HEAD`], or `None` while the head is still arriving.
pub fn take_head(buf: &mut Vec<u8>) -> Option<Result<Vec<u8>, HeadError>> {
    match head_end(buf) {
        Some(end) if end <= MAX_HEAD => {
            buf.truncate(end);
            Some(Ok(std::mem::take(buf)))
        }
        Some(_) => Some(Err(HeadError::TooLarge)),
        None if buf.len() > MAX_HEAD => Some(Err(HeadError::TooLarge)),
        None => None,
    }
}

/// Index just past the blank line ending a head (`\r\n\r\n`, or a bare `\n\n`), if present.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Percent-decode a path; `None` if an escape is malformed.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Judge a complete request head for a server of one file named `file_name`.
pub fn judge(head: &[u8], file_name: &str) -> Answer {
    match judged(head, file_name) {
        Ok(v) | Err(v) => v,
    }
}

/// A 400 with `why`.
fn bad(why: &str) -> Answer {
    Answer::Refuse(Status::BAD_REQUEST, why.to_string())
}

/// [`judge`], with every refusal as the error: the request line, the header fields, the
/// target, then the method.
fn judged(head: &[u8], file_name: &str) -> Result<Answer, Answer> {
    let Ok(text) = std::str::from_utf8(head) else {
        return Err(bad("the request head is not valid UTF-8 text"));
    };
    if text.contains('\0') {
        return Err(bad("the request head contains a NUL byte"));
    }
    // RFC 9112 §2.2: ignore empty lines received before the request line.
    let text = text.trim_start_matches(['\r', '\n']);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (method, target, minor) = request_line(lines.next().unwrap_or(""))?;
    let fields = Fields::read(lines)?;
    // §14.2: only GET has range handling; §13.1.5: an If-Range validator can only match one
    // the server sent, and copylab sends none (no ETag, no Last-Modified): the whole file.
    let range = match fields.range {
        Some(r) if method == "GET" && !fields.if_range => r,
        _ => RangeAsk::Whole,
    };
    if minor == "1" && !fields.host {
        return Err(bad("HTTP/1.1 requests need a Host header"));
    }
    check_target(target, file_name)?;
    match method {
        "GET" => Ok(Answer::Serve {
            head_only: false,
            range,
        }),
        "HEAD" => Ok(Answer::Serve {
            head_only: true,
            range,
        }),
        _ => Err(Answer::Refuse(
            Status::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed: use GET or HEAD"),
        )),
    }
}

/// `METHOD TARGET HTTP/1.x`: the method, the target and the minor version ("0" or "1").
fn request_line(line: &str) -> Result<(&str, &str, &str), Answer> {
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad("the request line must be METHOD TARGET HTTP/1.1"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad("the request method is not a valid token"));
    }
    let unsupported = || {
        Answer::Refuse(
            Status::VERSION_NOT_SUPPORTED,
            format!("{} is not supported: use HTTP/1.1", escape(version)),
        )
    };
    let Some(minor) = version.strip_prefix("HTTP/1.") else {
        if version.starts_with("HTTP/") {
            return Err(unsupported());
        }
        return Err(bad("the request line must end with HTTP/1.1 or HTTP/1.0"));
    };
    if minor != "0" && minor != "1" {
        return Err(unsupported());
    }
    Ok((method, target, minor))
}

/// The header fields a request's answer depends on.
struct Fields {
    host: bool,
    /// The Range field, if one came (two make no sense together: the whole file).
    range: Option<RangeAsk>,
    if_range: bool,
}

impl Fields {
    /// Read the header lines up to the blank line; a line that is not `name: value` with a
    /// token for a name is refused.
    fn read<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Fields, Answer> {
        let mut f = Fields {
            host: false,
            range: None,
            if_range: false,
        };
        for line in lines.take_while(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad("a header line has no colon"));
            };
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(bad("a header name is not a valid token"));
            }
            if name.eq_ignore_ascii_case("host") {
                f.host = true;
            } else if name.eq_ignore_ascii_case("range") {
                // Two Range fields make no sense together: ignore both (a whole 200).
                f.range = match f.range {
                    None => Some(RangeAsk::parse(value)),
                    Some(_) => Some(RangeAsk::Whole),
                };
            } else if name.eq_ignore_ascii_case("if-range") {
                f.if_range = true;
            }
        }
        Ok(f)
    }
}

/// The target must name `/` or `/<file_name>` (an absolute form keeps only its path; the
/// query and fragment are ignored).
fn check_target(target: &str, file_name: &str) -> Result<(), Answer> {
    let path_part = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        }
    } else if target.starts_with('/') {
        target
    } else {
        return Err(bad("the request target must start with /"));
    };
    let path = path_part.split(['?', '#']).next().unwrap_or("/");
    let Some(decoded) = percent_decode(path) else {
        return Err(bad("the request path has a malformed %-escape"));
    };
    if decoded.contains(&0) {
        return Err(bad("the request path contains a NUL byte"));
    }
    let named = [b"/".as_slice(), file_name.as_bytes()].concat();
    if decoded != b"/" && decoded != named {
        return Err(Answer::Refuse(
            Status::NOT_FOUND,
            format!("only / and /{file_name} are served here"),
        ));
    }
    Ok(())
}

/// What a request's Range header asks for (RFC 9110 §14.1.2), before the file's length is
/// known. Anything copylab does not answer with one part is `Whole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No Range header, a malformed one, another unit, several ranges, or a method or
    /// If-Range that rules ranges out: the whole file with 200.
    Whole,
    /// `bytes=first-last` or `bytes=first-` (`last` inclusive, may lie past the end).
    From { first: u64, last: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// What to answer a ranged request with, for a file of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// 200 with every byte.
    Whole,
    /// 206 with bytes `start..=end` (offsets in the file).
    Part { start: u64, end: u64 },
    /// 416: no byte of the file is in the range.
    Unsatisfiable,
}

impl RangeAsk {
    /// Parse a Range field's value. A malformed value is ignored (§14.2: the server MAY),
    /// and so is a list of several ranges (§14.1.1: it may answer with the whole file).
    pub fn parse(value: &str) -> RangeAsk {
        let Some((unit, set)) = value.trim().split_once('=') else {
            return RangeAsk::Whole;
        };
        if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
            return RangeAsk::Whole;
        }
        let Some((a, b)) = set.trim().split_once('-') else {
            return RangeAsk::Whole;
        };
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match (a.is_empty(), b.is_empty()) {
            (true, false) => num(b).map_or(RangeAsk::Whole, RangeAsk::Suffix),
            (false, true) => num(a).map_or(RangeAsk::Whole, |first| RangeAsk::From {
                first,
                last: None,
            }),
            (false, false) => match (num(a), num(b)) {
                // last < first is an invalid range-spec: ignored like any malformed one.
                (Some(first), Some(last)) if last >= first => RangeAsk::From {
                    first,
                    last: Some(last),
                },
                _ => RangeAsk::Whole,
            },
            (true, true) => RangeAsk::Whole,
        }
    }

    /// The answer for a file of `len` bytes (§14.1.2): `last` past the end is clamped to the
    /// last byte; `first` at or past the end, and `-0`, are unsatisfiable. A suffix of an
    /// empty file is its whole (empty) self, which only a 200 can say.
    pub fn resolve(self, len: u64) -> Ranged {
        match self {
            RangeAsk::Whole => Ranged::Whole,
            RangeAsk::From { first, .. } if first >= len => Ranged::Unsatisfiable,
            RangeAsk::From { first, last } => Ranged::Part {
                start: first,
                end: last.map_or(len - 1, |l| l.min(len - 1)),
            },
            RangeAsk::Suffix(0) => Ranged::Unsatisfiable,
            RangeAsk::Suffix(_) if len == 0 => Ranged::Whole,
            RangeAsk::Suffix(n) => Ranged::Part {
                start: len - n.min(len),
                end: len - 1,
            },
        }
    }
}

/// The head of a 200 response carrying `len` bytes of a file.
pub fn ok_head(len: u64) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nServer: copylab/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// The head of a 206 response carrying bytes `start..=end` of a file of `len` bytes.
pub fn partial_head(start: u64, end: u64, len: u64) -> Vec<u8> {
    format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{len}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nServer: copylab/{}\r\n\r\n",
        end - start + 1,
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A complete 416 response for a file of `len` bytes (§15.5.17: `Content-Range: bytes */len`).
pub fn unsatisfiable_response(len: u64, why: &str) -> Vec<u8> {
    response_with(
        Status::RANGE_NOT_SATISFIABLE,
        why,
        &format!("Content-Range: bytes */{len}\r\n"),
    )
}

/// A complete error response with a one-line plain-text body.
pub fn error_response(status: Status, why: &str) -> Vec<u8> {
    let allow = if status == Status::METHOD_NOT_ALLOWED {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    response_with(status, why, allow)
}

/// A complete response of `status` with `extra` header lines and a one-line body.
fn response_with(status: Status, why: &str, extra: &str) -> Vec<u8> {
    let body = format!("{} {}: {why}\n", status.0, status.reason());
    format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}Connection: close\r\nServer: copylab/{}\r\n\r\n{body}",
        status.0,
        status.reason(),
        body.len(),
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A parsed response head, for `fetch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub content_length: Option<u64>,
    /// `Content-Range` as sent (a 206's `bytes a-b/len`), if any.
    pub content_range: Option<String>,
}

/// Parse a response head (through its blank line).
pub fn parse_response(head: &[u8]) -> Result<ResponseHead, String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!(
            "not an HTTP/1.x response: \"{}\"",
            escape(status_line)
        ));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: \"{}\"", escape(status_line)))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut content_length: Option<u64> = None;
    let mut content_range: Option<String> = None;
    let mut transfer_encoding: Option<String> = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "a response header line has no colon: \"{}\"",
                escape(line)
            ));
        };
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            content_length = content_length_of(value, content_length)?;
        } else if name.eq_ignore_ascii_case("content-range") {
            content_range = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let joined = match transfer_encoding.take() {
                Some(t) => format!("{t}, {value}"),
                None => value.to_string(),
            };
            transfer_encoding = Some(joined);
        }
    }
    // 1xx, 204 and 304 have no body, whatever the head says (RFC 9112 §6.3).
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    if let Some(te) = transfer_encoding
        && !bodiless
    {
        if content_length.is_some() {
            return Err(format!(
                "the response has both Content-Length and Transfer-Encoding: {}: conflicting framing (RFC 9112 §6.3)",
                escape(&te)
            ));
        }
        return Err(format!(
            "the response uses Transfer-Encoding: {}, which fetch does not decode; it needs a Content-Length (copylab serve sends one)",
            escape(&te)
        ));
    }
    Ok(ResponseHead {
        status,
        reason,
        content_length,
        content_range,
    })
}

/// The declared length after a Content-Length field of `value`, the fields before it having
/// declared `length`. RFC 9112 §6.3: a list of identical values is one length; different
/// ones, or anything but digits (`+3`, `-1`, `0x10`), is unrecoverable framing.
fn content_length_of(value: &str, mut length: Option<u64>) -> Result<Option<u64>, String> {
    for v in value.split(',').map(|v| v.trim_matches([' ', '\t'])) {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad Content-Length: \"{}\"", escape(value)));
        }
        let n: u64 = v
            .parse()
            .map_err(|_| format!("Content-Length too large: \"{}\"", escape(value)))?;
        match length {
            Some(old) if old != n => {
                return Err(format!(
                    "conflicting Content-Length headers ({old} and {n}): the body's end is ambiguous"
                ));
            }
            _ => length = Some(n),
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(head: &str) -> Answer {
        judge(head.as_bytes(), "big.iso")
    }

    fn status(v: Answer) -> u16 {
        match v {
            Answer::Serve { .. } => 200,
            Answer::Refuse(s, _) => s.0,
        }
    }

    #[test]
    fn serves_root_and_the_file_name() {
        assert_eq!(
            j("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Answer::Serve {
                head_only: false,
                range: RangeAsk::Whole
            }
        );
        assert_eq!(status(j("GET /big.iso HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
        assert_eq!(
            status(j("GET /big%2eiso?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")),
            200
        );
        assert_eq!(
            status(j("GET http://h:1/big.iso HTTP/1.1\r\nHost: x\r\n\r\n")),
            200
        );
        assert_eq!(
            j("HEAD / HTTP/1.0\r\n\r\n"),
            Answer::Serve {
                head_only: true,
                range: RangeAsk::Whole
            }
        );
        assert_eq!(status(j("GET / HTTP/1.1\nHost: x\n\n")), 200);
        assert_eq!(status(j("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
    }

    #[test]
    fn ranges_parse_and_resolve_as_rfc_9110_says() {
        use RangeAsk::*;
        let r = |v: &str, len: u64| RangeAsk::parse(v).resolve(len);
        let part = |start, end| Ranged::Part { start, end };
        assert_eq!(r("bytes=0-99", 1000), part(0, 99));
        assert_eq!(r(" bytes = 10-19 ", 1000), part(10, 19));
        assert_eq!(r("BYTES=10-", 1000), part(10, 999));
        assert_eq!(r("bytes=-100", 1000), part(900, 999));
        assert_eq!(r("bytes=-5000", 1000), part(0, 999));
        assert_eq!(r("bytes=990-5000", 1000), part(990, 999));
        assert_eq!(r("bytes=999-999", 1000), part(999, 999));
        assert_eq!(r("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=1000-2000", 1000), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=0-0", 0), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-10", 0), Ranged::Whole);
        for malformed in [
            "bytes=5-1",
            "bytes=abc",
            "bytes=-",
            "bytes=1-2-3",
            "items=0-1",
            "bytes 0-1",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
            "bytes=0-1,5-6",
        ] {
            assert_eq!(RangeAsk::parse(malformed), Whole, "{malformed}");
        }
        let ranged = |head: &str| match j(head) {
            Answer::Serve { range, .. } => range,
            v => panic!("{v:?}"),
        };
        assert_eq!(
            ranged("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n"),
            From {
                first: 1,
                last: Some(2)
            }
        );
        assert_eq!(
            ranged("HEAD / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n"),
            Whole
        );
        assert_eq!(
            ranged("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\nIf-Range: \"x\"\r\n\r\n"),
            Whole
        );
        assert_eq!(
            ranged("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\n\r\n"),
            Whole
        );
        let h = String::from_utf8(partial_head(10, 19, 1000)).unwrap();
        assert!(h.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{h}");
        assert!(
            h.contains("\r\nContent-Length: 10\r\n")
                && h.contains("\r\nContent-Range: bytes 10-19/1000\r\n"),
            "{h}"
        );
        let u = String::from_utf8(unsatisfiable_response(1000, "no")).unwrap();
        assert!(
            u.starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n")
                && u.contains("\r\nContent-Range: bytes */1000\r\n"),
            "{u}"
        );
    }

    #[test]
    fn heads_are_taken_whole_or_refused_when_too_large() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        assert!(take_head(&mut buf).is_none());
        buf.extend_from_slice(b"\r\nextra");
        let head = take_head(&mut buf).unwrap().unwrap();
        assert!(head.ends_with(b"\r\n\r\n") && buf.is_empty());
        let mut big = vec![b'a'; MAX_HEAD + 1];
        assert!(matches!(
            take_head(&mut big),
            Some(Err(HeadError::TooLarge))
        ));
        let mut late = vec![b'a'; MAX_HEAD];
        late.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(
            take_head(&mut late),
            Some(Err(HeadError::TooLarge))
        ));
    }

    #[test]
    fn refuses_what_it_must() {
        assert_eq!(
            status(j("GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")),
            404
        );
        assert_eq!(
            status(j("GET /../big.iso HTTP/1.1\r\nHost: x\r\n\r\n")),
            404
        );
        assert_eq!(status(j("GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n")), 404);
        assert_eq!(status(j("POST / HTTP/1.1\r\nHost: x\r\n\r\n")), 405);
        assert_eq!(status(j("GET / HTTP/1.1\r\n\r\n")), 400);
        assert_eq!(status(j("GET / HTTP/2.0\r\nHost: x\r\n\r\n")), 505);
        assert_eq!(status(j("GET /\r\n\r\n")), 400);
        assert_eq!(status(j("GET  / HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(status(j("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(status(j("GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(status(j("GET / HTTP/1.1\r\nno colon\r\n\r\n")), 400);
        assert_eq!(status(j("G(T / HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(status(j("GET * HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
        assert_eq!(
            status(judge(b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n", "f")),
            400
        );
    }

    #[test]
    fn judge_never_panics_on_noise() {
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"GET /HTP1.\r\n :%0aZ\0\xff"[(x % 20) as usize]
                })
                .collect();
            let _ = judge(&bytes, "f");
            let _ = parse_response(&bytes);
            let _ = head_end(&bytes);
        }
    }

    #[test]
    fn error_responses_are_complete() {
        let r = String::from_utf8(error_response(Status::METHOD_NOT_ALLOWED, "use GET")).unwrap();
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(r.contains("Allow: GET, HEAD\r\n"));
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }

    #[test]
    fn parses_response_heads() {
        let h = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n").unwrap();
        assert_eq!((h.status, h.content_length), (200, Some(42)));
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn conflicting_or_malformed_framing_is_refused() {
        let p = |h: &str| parse_response(h.as_bytes());
        assert!(p("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").is_err());
        assert!(p("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n").is_err());
        assert!(p("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n").is_err());
        assert!(p("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(p("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").is_err());
        let both = p("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(both.unwrap_err().contains("conflicting framing"));
        let chunked = p("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(chunked.unwrap_err().contains("Transfer-Encoding: chunked"));
        // The same length twice (or as a list) is one length.
        let same = p("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7, 7\r\n\r\n");
        assert_eq!(same.unwrap().content_length, Some(7));
        assert_eq!(p("HTTP/1.1 100 Continue\r\n\r\n").unwrap().status, 100);
    }
}
