//! The command table: every command the server takes, one entry each,
//! sorted by name so a lookup is a binary search. An entry says how many
//! arguments the command takes, what kind of command it is, and how to
//! parse its arguments into a [`Command`] (or refuse them); the command
//! then runs with [`Command::execute`].

use super::{Command, ParseContext, Refusal, expiry, keyspace, server, strings};

/// What an entry parses arguments (those after the name) with. It is
/// called only with as many arguments as the entry's arity allows, so it
/// may index them within that.
pub type Parser = for<'a> fn(&'a [&'a [u8]], &ParseContext) -> Result<Command<'a>, Refusal<'a>>;

/// How many arguments a command takes after its name; others get
/// `wrong number of arguments` before anything else is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// This many or more.
    AtLeast(usize),
    /// From the first to the second, both included.
    Between(usize, usize),
    /// Any number: the command ignores or checks them itself.
    Any,
}

impl Arity {
    /// Whether `n` arguments fit.
    pub fn allows(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::AtLeast(k) => n >= k,
            Arity::Between(low, high) => (low..=high).contains(&n),
            Arity::Any => true,
        }
    }
}

/// What kind of command it is (exactly one of these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// May change the store; when it did, its reply waits for durability.
    pub const WRITE: Flags = Flags(1);
    /// Reads the store, never changes it.
    pub const READ_ONLY: Flags = Flags(2);
    /// About the server or the connection: touches no key.
    pub const ADMIN: Flags = Flags(4);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// One command.
#[derive(Clone, Copy)]
pub struct Spec {
    /// Its name, in capitals.
    pub name: &'static str,
    /// How many arguments it takes.
    pub arity: Arity,
    /// What kind of command it is.
    pub flags: Flags,
    /// Arguments to a command, or the error reply.
    pub parse: Parser,
}

impl core::fmt::Debug for Spec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("arity", &self.arity)
            .field("flags", &self.flags)
            .finish()
    }
}

const fn spec(name: &'static str, arity: Arity, flags: Flags, parse: Parser) -> Spec {
    Spec { name, arity, flags, parse }
}

use Arity::{AtLeast, Between, Exactly};
use Flags as F;

/// Every command, sorted by name.
pub const TABLE: &[Spec] = &[
    spec("APPEND", Exactly(2), F::WRITE, strings::append),
    spec("AUTH", Between(1, 2), F::ADMIN, server::auth),
    spec("BGSAVE", Arity::Any, F::ADMIN, server::bgsave),
    spec("CLIENT", Arity::Any, F::ADMIN, server::ok),
    spec("COMMAND", Arity::Any, F::ADMIN, server::command),
    spec("CONFIG", AtLeast(1), F::ADMIN, server::config),
    spec("DBSIZE", Arity::Any, F::READ_ONLY, keyspace::dbsize),
    spec("DECR", Exactly(1), F::WRITE, strings::decr),
    spec("DECRBY", Exactly(2), F::WRITE, strings::decrby),
    spec("DEL", AtLeast(1), F::WRITE, keyspace::del),
    spec("ECHO", Exactly(1), F::ADMIN, server::echo),
    spec("EXISTS", AtLeast(1), F::READ_ONLY, keyspace::exists),
    spec("EXPIRE", AtLeast(2), F::WRITE, expiry::expire),
    spec("EXPIREAT", AtLeast(2), F::WRITE, expiry::expireat),
    spec("EXPIRETIME", Exactly(1), F::READ_ONLY, expiry::expiretime),
    spec("FLUSHALL", Arity::Any, F::WRITE, keyspace::flushdb),
    spec("FLUSHDB", Arity::Any, F::WRITE, keyspace::flushdb),
    spec("GET", Exactly(1), F::READ_ONLY, strings::get),
    spec("GETDEL", Exactly(1), F::WRITE, strings::getdel),
    spec("GETEX", AtLeast(1), F::WRITE, strings::getex),
    spec("GETSET", Exactly(2), F::WRITE, strings::getset),
    spec("HELLO", Arity::Any, F::ADMIN, server::hello),
    spec("INCR", Exactly(1), F::WRITE, strings::incr),
    spec("INCRBY", Exactly(2), F::WRITE, strings::incrby),
    spec("INFO", Arity::Any, F::ADMIN, server::info),
    spec("KEYS", Exactly(1), F::READ_ONLY, keyspace::keys),
    spec("MGET", AtLeast(1), F::READ_ONLY, strings::mget),
    spec("MSET", AtLeast(2), F::WRITE, strings::mset),
    spec("PERSIST", Exactly(1), F::WRITE, expiry::persist),
    spec("PEXPIRE", AtLeast(2), F::WRITE, expiry::pexpire),
    spec("PEXPIREAT", AtLeast(2), F::WRITE, expiry::pexpireat),
    spec("PEXPIRETIME", Exactly(1), F::READ_ONLY, expiry::pexpiretime),
    spec("PING", Between(0, 1), F::ADMIN, server::ping),
    spec("PSETEX", Exactly(3), F::WRITE, strings::psetex),
    spec("PTTL", Exactly(1), F::READ_ONLY, expiry::pttl),
    spec("QUIT", Arity::Any, F::ADMIN, server::quit),
    spec("SAVE", Arity::Any, F::ADMIN, server::save),
    spec("SCAN", AtLeast(1), F::READ_ONLY, keyspace::scan),
    spec("SELECT", Exactly(1), F::ADMIN, server::select),
    spec("SET", AtLeast(2), F::WRITE, strings::set),
    spec("SETEX", Exactly(3), F::WRITE, strings::setex),
    spec("SETNX", Exactly(2), F::WRITE, strings::setnx),
    spec("STRLEN", Exactly(1), F::READ_ONLY, strings::strlen),
    spec("TTL", Exactly(1), F::READ_ONLY, expiry::ttl),
    spec("TYPE", Exactly(1), F::READ_ONLY, keyspace::type_of),
    spec("UNLINK", AtLeast(1), F::WRITE, keyspace::del),
];

/// Names are at most this long (a longer one is no command).
const LONGEST: usize = 16;

/// The entry for `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut buf = [0u8; LONGEST];
    let upper = buf.get_mut(..name.len())?;
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    let found = TABLE.binary_search_by(|spec| spec.name.as_bytes().cmp(upper)).ok()?;
    TABLE.get(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_each_entry_is_one_kind() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} before {}", pair[0].name, pair[1].name);
        }
        for spec in TABLE {
            assert!(spec.name.len() <= LONGEST && spec.name.bytes().all(|b| b.is_ascii_uppercase()), "{}", spec.name);
            let kinds = [Flags::WRITE, Flags::READ_ONLY, Flags::ADMIN];
            assert_eq!(kinds.iter().filter(|&&k| spec.flags.contains(k)).count(), 1, "{}", spec.name);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"get").map(|s| s.name), Some("GET"));
        assert_eq!(lookup(b"PExpireAt").map(|s| s.name), Some("PEXPIREAT"));
        assert!(lookup(b"GETX").is_none());
        assert!(lookup(b"").is_none());
        assert!(lookup(&[b'A'; 100]).is_none());
        for spec in TABLE {
            assert_eq!(lookup(spec.name.as_bytes()).map(|s| s.name), Some(spec.name));
        }
    }
}
