//! Error replies: every way a command can be refused, each with Redis's
//! exact wording (what clients match on), and failures while running one.

use core::fmt;

use oasis::alloc::string::String;

use crate::store::StoreError;

/// Why a command was refused; its [`fmt::Display`] is the error reply
/// (without the leading `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// No command by this name (as the client wrote it).
    UnknownCommand(&'a [u8]),
    /// The arguments do not fit the command's arity.
    WrongArgs(&'static str),
    /// An option or a combination of options this command does not take.
    Syntax,
    /// An argument (or a stored value) that should be a decimal `i64`.
    NotAnInteger,
    /// INCR and friends would leave `i64`.
    Overflow,
    /// DECRBY by `i64::MIN`, which cannot be negated.
    DecrementOverflow,
    /// A time to live that is not positive, or too far out; the command
    /// as Redis names it in the message.
    InvalidExpireTime(&'static str),
    /// A key over `--max-key`.
    KeyTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value over `--max-value`.
    ValueTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// SCAN's cursor is not a number.
    InvalidCursor,
    /// EXPIRE's condition is not NX, XX, GT or LT.
    UnsupportedOption(&'a [u8]),
    /// EXPIRE's NX with another condition.
    NxWithOthers,
    /// EXPIRE's GT with LT.
    GtWithLt,
    /// SELECT of a database other than 0.
    DbIndexOutOfRange,
    /// HELLO of a protocol other than RESP2.
    NoProto,
    /// HELLO's protocol version is not a number.
    ProtocolVersionNotInteger,
    /// AUTH or HELLO AUTH as a user other than `default`.
    WrongPass,
    /// AUTH with a password only: there is none to check it against.
    AuthWithoutPassword,
    /// CONFIG SET or REWRITE: the configuration is the boot arguments.
    ConfigFixed,
    /// A CONFIG subcommand it does not know (as the client wrote it).
    UnknownSubcommand(&'a [u8]),
}

/// At most 64 bytes of a client's word, for a message: invalid UTF-8
/// replaced, control characters left out (a reply is one line).
fn shown(word: &[u8]) -> String {
    String::from_utf8_lossy(&word[..word.len().min(64)]).chars().filter(|c| !c.is_control()).collect()
}

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownCommand(name) => write!(f, "ERR unknown command '{}'", shown(name)),
            Refusal::WrongArgs(name) => {
                write!(f, "ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase())
            }
            Refusal::Syntax => f.write_str("ERR syntax error"),
            Refusal::NotAnInteger => f.write_str("ERR value is not an integer or out of range"),
            Refusal::Overflow => f.write_str("ERR increment or decrement would overflow"),
            Refusal::DecrementOverflow => f.write_str("ERR decrement would overflow"),
            Refusal::InvalidExpireTime(command) => write!(f, "ERR invalid expire time in '{command}' command"),
            Refusal::KeyTooLong { len, max } => write!(f, "ERR key is {len} bytes, longer than the limit of {max}"),
            Refusal::ValueTooLong { len, max } => {
                write!(f, "ERR value is {len} bytes, longer than the limit of {max}")
            }
            Refusal::InvalidCursor => f.write_str("ERR invalid cursor"),
            Refusal::UnsupportedOption(option) => write!(f, "ERR Unsupported option {}", shown(option)),
            Refusal::NxWithOthers => f.write_str("ERR NX and XX, GT or LT options at the same time are not compatible"),
            Refusal::GtWithLt => f.write_str("ERR GT and LT options at the same time are not compatible"),
            Refusal::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            Refusal::NoProto => f.write_str("NOPROTO unsupported protocol version"),
            Refusal::ProtocolVersionNotInteger => f.write_str("ERR Protocol version is not an integer or out of range"),
            Refusal::WrongPass => f.write_str("WRONGPASS invalid username-password pair or user is disabled."),
            Refusal::AuthWithoutPassword => f.write_str(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure \
                 your configuration is correct?",
            ),
            Refusal::ConfigFixed => f.write_str("ERR this server's configuration is set by its boot arguments"),
            Refusal::UnknownSubcommand(sub) => write!(f, "ERR unknown subcommand '{}'", shown(sub)),
        }
    }
}

/// Why a command that was parsed did not complete: refused on what it
/// found (a stored value that is not a number, say), or the store failed.
#[derive(Debug)]
pub enum Failure<'a> {
    /// Refused, with Redis's reply.
    Refused(Refusal<'a>),
    /// The store failed: `ERR` and its message.
    Store(StoreError),
}

impl<'a> From<Refusal<'a>> for Failure<'a> {
    fn from(refusal: Refusal<'a>) -> Self {
        Failure::Refused(refusal)
    }
}

impl From<StoreError> for Failure<'_> {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(refusal) => refusal.fmt(f),
            Failure::Store(error) => write!(f, "ERR {error}"),
        }
    }
}
