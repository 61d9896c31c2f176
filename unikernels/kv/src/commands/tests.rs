//! The commands' replies, byte for byte, on the memory store.

use core::pin::pin;
use core::task::{Context, Poll, Waker};

use core::cell::RefCell;

use super::table::{self, Flags};
use super::{Counters, Effect, Limits, Reply, Scans, run};
use crate::store::MemStore;

const LIMITS: Limits = Limits { max_key: 64, max_value: 24 };

/// A store, the server's SCAN cursors and the time (Unix ms).
struct Db {
    store: MemStore,
    scans: RefCell<Scans>,
    now: u64,
}

impl Default for Db {
    fn default() -> Db {
        Db { store: MemStore::default(), scans: RefCell::default(), now: NOW }
    }
}

/// 2023-11-14T22:13:20Z.
const NOW: u64 = 1_700_000_000_000;

/// Runs `command` (split at spaces) and returns its reply as text.
fn exec(db: &mut Db, command: &str) -> (String, Effect) {
    let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
    let counters = Counters { commands: 0, connections: 0, connected: 0, durability: "always" };
    let mut out = Vec::new();
    let effect = {
        let mut reply = Reply(&mut out);
        let mut future = pin!(run(&mut db.store, &db.scans, &args, &LIMITS, &counters, db.now, &mut reply));
        // MemStore never waits.
        let Poll::Ready(effect) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("{command} waited")
        };
        effect
    };
    (String::from_utf8(out).unwrap(), effect)
}

fn reply(db: &mut Db, command: &str) -> String {
    exec(db, command).0
}

#[test]
fn set_options() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "SET k v XX"), "$-1\r\n");
    assert!(!exec(&mut s, "SET k v XX").1.wrote);
    assert_eq!(reply(&mut s, "SET k v NX"), "+OK\r\n");
    assert_eq!(reply(&mut s, "SET k w NX"), "$-1\r\n");
    assert_eq!(reply(&mut s, "GET k"), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, "SET k w XX GET"), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, "SET k x NX GET"), "$1\r\nw\r\n");
    assert_eq!(reply(&mut s, "GET k"), "$1\r\nw\r\n");
    assert_eq!(reply(&mut s, "SET n 1 GET"), "$-1\r\n");
    assert_eq!(reply(&mut s, "SET k v nx xx"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SET k v NX NX KEEPTTL"), "$-1\r\n");
    assert_eq!(reply(&mut s, "SET k v BOGUS"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SET k v EX 10"), "+OK\r\n");
    assert!(reply(&mut s, "SET k 0123456789abcdef012345678 NX").starts_with("-ERR value is 25 bytes"));
    assert_eq!(reply(&mut s, "SETNX k z"), ":0\r\n");
    assert_eq!(reply(&mut s, "SETNX fresh z"), ":1\r\n");
    assert_eq!(reply(&mut s, "GETSET fresh y"), "$1\r\nz\r\n");
    assert_eq!(reply(&mut s, "GETSET none y"), "$-1\r\n");
    assert_eq!(reply(&mut s, "GETDEL fresh"), "$1\r\ny\r\n");
    assert_eq!(reply(&mut s, "GETDEL fresh"), "$-1\r\n");
    assert!(!exec(&mut s, "GETDEL fresh").1.wrote);
}

#[test]
fn counters_and_strings() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "INCR n"), ":1\r\n");
    assert!(exec(&mut s, "INCRBY n 41").1.wrote);
    assert_eq!(reply(&mut s, "GET n"), "$2\r\n42\r\n");
    assert_eq!(reply(&mut s, "DECRBY n 50"), ":-8\r\n");
    assert_eq!(reply(&mut s, "DECR n"), ":-9\r\n");
    assert_eq!(reply(&mut s, "INCRBY n +1"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "INCRBY n 1.5"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "DECRBY n -9223372036854775808"), "-ERR decrement would overflow\r\n");
    // Integers as Redis reads them: no leading zeros, no "+", no "-0".
    for bad in ["007", "-0", "+1", "-", "1x", "0x10", "99999999999999999999"] {
        assert_eq!(reply(&mut s, &format!("INCRBY n {bad}")), "-ERR value is not an integer or out of range\r\n");
    }
    assert_eq!(reply(&mut s, "SET z 007"), "+OK\r\n");
    assert_eq!(reply(&mut s, "INCR z"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "SET z 0"), "+OK\r\n");
    assert_eq!(reply(&mut s, "INCRBY z -10"), ":-10\r\n");
    assert_eq!(reply(&mut s, "SET n 9223372036854775807"), "+OK\r\n");
    assert_eq!(reply(&mut s, "INCR n"), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(reply(&mut s, "SET t hello"), "+OK\r\n");
    assert_eq!(reply(&mut s, "INCR t"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "APPEND t !"), ":6\r\n");
    assert_eq!(reply(&mut s, "APPEND new ab"), ":2\r\n");
    assert!(reply(&mut s, "APPEND t 0123456789abcdefghij").starts_with("-ERR value is 26 bytes"));
    assert_eq!(reply(&mut s, "GET t"), "$6\r\nhello!\r\n");
    assert_eq!(reply(&mut s, "STRLEN t"), ":6\r\n");
    assert_eq!(reply(&mut s, "STRLEN nothing"), ":0\r\n");
    assert_eq!(reply(&mut s, "TYPE t"), "+string\r\n");
    assert_eq!(reply(&mut s, "TYPE nothing"), "+none\r\n");
    assert_eq!(reply(&mut s, "TTL t"), ":-1\r\n");
    assert_eq!(reply(&mut s, "PTTL nothing"), ":-2\r\n");
    assert_eq!(reply(&mut s, "EXPIRE t 10"), ":1\r\n");
}

#[test]
fn keys_expire_as_in_redis() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "SET k v EX 10"), "+OK\r\n");
    assert_eq!(reply(&mut s, "TTL k"), ":10\r\n");
    assert_eq!(reply(&mut s, "PTTL k"), ":10000\r\n");
    assert_eq!(reply(&mut s, "EXPIRETIME k"), format!(":{}\r\n", NOW / 1000 + 10));
    assert_eq!(reply(&mut s, "PEXPIRETIME k"), format!(":{}\r\n", NOW + 10_000));
    assert_eq!(reply(&mut s, "PEXPIRETIME nothing"), ":-2\r\n");
    // INCR and APPEND keep the time to live, SET clears it unless KEEPTTL.
    assert_eq!(reply(&mut s, "APPEND k w"), ":2\r\n");
    assert_eq!(reply(&mut s, "SET k v KEEPTTL"), "+OK\r\n");
    assert_eq!(reply(&mut s, "TTL k"), ":10\r\n");
    assert_eq!(reply(&mut s, "INFO keyspace"), "$44\r\n# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n\r\n");
    s.now += 9_499;
    assert_eq!(reply(&mut s, "TTL k"), ":1\r\n", "rounded as Redis rounds");
    assert_eq!(reply(&mut s, "PTTL k"), ":501\r\n");
    s.now += 501;
    // At its deadline the key is gone to every command.
    assert_eq!(reply(&mut s, "GET k"), "$-1\r\n");
    assert_eq!(reply(&mut s, "EXISTS k"), ":0\r\n");
    assert_eq!(reply(&mut s, "TTL k"), ":-2\r\n");
    assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
    assert_eq!(reply(&mut s, "KEYS *"), "*0\r\n");
    assert_eq!(reply(&mut s, "SCAN 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(reply(&mut s, "DEL k"), ":0\r\n");
    // INCR on an expired key starts from nothing, with no time to live.
    assert_eq!(reply(&mut s, "SET c 5 PX 100"), "+OK\r\n");
    s.now += 100;
    assert_eq!(reply(&mut s, "INCR c"), ":1\r\n");
    assert_eq!(reply(&mut s, "TTL c"), ":-1\r\n");
    assert_eq!(reply(&mut s, "SET c 5 EX 5"), "+OK\r\n");
    assert_eq!(reply(&mut s, "SET c 6"), "+OK\r\n");
    assert_eq!(reply(&mut s, "TTL c"), ":-1\r\n");
    // EXAT and PXAT are absolute; SETEX and PSETEX; bad times.
    assert_eq!(
        {
            let c = format!("SET a 1 PXAT {}", s.now + 2500);
            reply(&mut s, &c)
        },
        "+OK\r\n"
    );
    assert_eq!(reply(&mut s, "PTTL a"), ":2500\r\n");
    assert_eq!(
        {
            let c = format!("SET a 1 EXAT {}", s.now / 1000 + 3);
            reply(&mut s, &c)
        },
        "+OK\r\n"
    );
    assert_eq!(reply(&mut s, "SETEX b 7 x"), "+OK\r\n");
    assert_eq!(reply(&mut s, "TTL b"), ":7\r\n");
    assert_eq!(reply(&mut s, "PSETEX b 70 x"), "+OK\r\n");
    assert_eq!(reply(&mut s, "PTTL b"), ":70\r\n");
    assert_eq!(reply(&mut s, "SET b x EX 0"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(reply(&mut s, "SET b x EX -5"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(reply(&mut s, "SET b x EX 9223372036854775807"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(reply(&mut s, "SET b x EX ten"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "SET b x EX 1 PX 1"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SET b x EX 1 KEEPTTL"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SET b x EX"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SETEX b 0 x"), "-ERR invalid expire time in 'setex' command\r\n");
    assert_eq!(reply(&mut s, "PTTL b"), ":70\r\n", "a refused SET changes nothing");
    // EXPIRE and its conditions; no time to live is forever to GT/LT.
    assert_eq!(reply(&mut s, "EXPIRE nothing 10"), ":0\r\n");
    assert_eq!(reply(&mut s, "SET p v"), "+OK\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 10 XX"), ":0\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 10 GT"), ":0\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 100 LT"), ":1\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 10 NX"), ":0\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 200 GT"), ":1\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 50 GT"), ":0\r\n");
    assert_eq!(reply(&mut s, "TTL p"), ":200\r\n");
    assert_eq!(reply(&mut s, "PEXPIRE p 1500 XX"), ":1\r\n");
    assert_eq!(reply(&mut s, "PTTL p"), ":1500\r\n");
    assert_eq!(
        reply(&mut s, "EXPIRE p 1 NX XX"),
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_eq!(reply(&mut s, "EXPIRE p 1 GT LT"), "-ERR GT and LT options at the same time are not compatible\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 1 SOON"), "-ERR Unsupported option SOON\r\n");
    assert_eq!(reply(&mut s, "EXPIRE p 9223372036854775807"), "-ERR invalid expire time in 'expire' command\r\n");
    assert_eq!(reply(&mut s, "PERSIST p"), ":1\r\n");
    assert_eq!(reply(&mut s, "PERSIST p"), ":0\r\n");
    assert_eq!(reply(&mut s, "TTL p"), ":-1\r\n");
    assert_eq!(
        {
            let c = format!("PEXPIREAT p {}", s.now + 42);
            reply(&mut s, &c)
        },
        ":1\r\n"
    );
    assert_eq!(reply(&mut s, "PTTL p"), ":42\r\n");
    // A time already past removes the key.
    assert_eq!(reply(&mut s, "EXPIRE p -1"), ":1\r\n");
    assert_eq!(reply(&mut s, "EXISTS p"), ":0\r\n");
    assert_eq!(reply(&mut s, "SET p v"), "+OK\r\n");
    assert_eq!(reply(&mut s, "EXPIREAT p 1"), ":1\r\n");
    assert_eq!(reply(&mut s, "GET p"), "$-1\r\n");
    // GETEX.
    assert_eq!(reply(&mut s, "SET g v"), "+OK\r\n");
    assert_eq!(reply(&mut s, "GETEX g EX 30"), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, "TTL g"), ":30\r\n");
    assert_eq!(reply(&mut s, "GETEX g"), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, "TTL g"), ":30\r\n");
    assert_eq!(reply(&mut s, "GETEX g PERSIST"), "$1\r\nv\r\n");
    assert_eq!(reply(&mut s, "TTL g"), ":-1\r\n");
    assert_eq!(reply(&mut s, "GETEX g PX 0"), "-ERR invalid expire time in 'getex' command\r\n");
    assert_eq!(reply(&mut s, "GETEX g EX 1 PERSIST"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "GETEX nothing EX 5"), "$-1\r\n");
    // As Redis: syntax before the key, the key before the time.
    assert_eq!(reply(&mut s, "GETEX nothing EX 0"), "$-1\r\n");
    assert_eq!(reply(&mut s, "GETEX nothing EX"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SET b x EX 0 BOGUS"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "TTL nothing"), ":-2\r\n");
    // MSET and GETSET clear times to live.
    assert_eq!(reply(&mut s, "SETEX m 9 x"), "+OK\r\n");
    assert_eq!(reply(&mut s, "MSET m y"), "+OK\r\n");
    assert_eq!(reply(&mut s, "TTL m"), ":-1\r\n");
    assert_eq!(reply(&mut s, "SETEX m 9 x"), "+OK\r\n");
    assert_eq!(reply(&mut s, "GETSET m z"), "$1\r\nx\r\n");
    assert_eq!(reply(&mut s, "TTL m"), ":-1\r\n");
    // FLUSHDB takes expired keys too; nothing is left to expire.
    assert_eq!(reply(&mut s, "SETEX gone 1 x"), "+OK\r\n");
    s.now += 5000;
    assert_eq!(reply(&mut s, "FLUSHDB"), "+OK\r\n");
    assert_eq!(reply(&mut s, "INFO keyspace"), "$44\r\n# Keyspace\r\ndb0:keys=0,expires=0,avg_ttl=0\r\n\r\n");
}

#[test]
fn scan_flush_and_hello() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "MSET user:1 a user:2 b other c"), "+OK\r\n");
    assert_eq!(reply(&mut s, "SCAN 0"), "*2\r\n$1\r\n0\r\n*3\r\n$5\r\nother\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
    // COUNT 1: one key examined per call, the cursor carrying on.
    assert_eq!(reply(&mut s, "SCAN 0 MATCH user:* COUNT 1"), "*2\r\n$1\r\n1\r\n*0\r\n");
    assert_eq!(reply(&mut s, "SCAN 1 MATCH user:* COUNT 1"), "*2\r\n$1\r\n2\r\n*1\r\n$6\r\nuser:1\r\n");
    assert_eq!(reply(&mut s, "SCAN 2 MATCH user:* COUNT 1"), "*2\r\n$1\r\n0\r\n*1\r\n$6\r\nuser:2\r\n");
    // A cursor it does not know starts over.
    assert!(reply(&mut s, "SCAN 77").contains("$5\r\nother\r\n"));
    assert_eq!(reply(&mut s, "SCAN 0 TYPE hash"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(reply(&mut s, "SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "SCAN x"), "-ERR invalid cursor\r\n");
    assert_eq!(reply(&mut s, "SCAN -1"), "-ERR invalid cursor\r\n");
    assert_eq!(reply(&mut s, "SCAN 0 MATCH"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "FLUSHDB"), "+OK\r\n");
    assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
    assert!(reply(&mut s, "HELLO").starts_with("*14\r\n$6\r\nserver\r\n"));
    assert!(reply(&mut s, "HELLO 2 SETNAME me").contains("$5\r\nproto\r\n:2\r\n"));
    assert_eq!(reply(&mut s, "HELLO 3"), "-NOPROTO unsupported protocol version\r\n");
    assert!(reply(&mut s, "HELLO 2 AUTH u p").starts_with("-WRONGPASS"));
    assert!(reply(&mut s, "HELLO 2 AUTH default anything SETNAME me").starts_with("*14\r\n"));
    assert!(reply(&mut s, "AUTH secret").starts_with("-ERR AUTH <password> called without any password"));
    assert_eq!(reply(&mut s, "AUTH default secret"), "+OK\r\n");
    assert_eq!(reply(&mut s, "CONFIG GET save"), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    assert_eq!(
        reply(&mut s, "CONFIG GET append* nothing"),
        "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$11\r\nappendfsync\r\n$2\r\nno\r\n"
    );
    assert!(reply(&mut s, "CONFIG SET save x").starts_with("-ERR"));
    assert_eq!(reply(&mut s, "HELLO 2 SETNAME"), "-ERR syntax error\r\n");
}

#[test]
fn connection_and_server_commands() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "PING"), "+PONG\r\n");
    assert_eq!(reply(&mut s, "ping hello"), "$5\r\nhello\r\n");
    assert_eq!(reply(&mut s, "PING a b"), "-ERR wrong number of arguments for 'ping' command\r\n");
    assert_eq!(reply(&mut s, "EcHo hi"), "$2\r\nhi\r\n");
    assert_eq!(reply(&mut s, "ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n");
    assert_eq!(reply(&mut s, "ECHO a b"), "-ERR wrong number of arguments for 'echo' command\r\n");
    assert_eq!(reply(&mut s, "COMMAND"), "*0\r\n");
    assert_eq!(reply(&mut s, "COMMAND DOCS get"), "*0\r\n");
    assert_eq!(reply(&mut s, "CLIENT SETNAME me"), "+OK\r\n");
    assert_eq!(reply(&mut s, "CLIENT"), "+OK\r\n");
    assert_eq!(reply(&mut s, "SELECT 0"), "+OK\r\n");
    assert_eq!(reply(&mut s, "SELECT 1"), "-ERR DB index is out of range\r\n");
    assert_eq!(reply(&mut s, "SELECT 00"), "-ERR DB index is out of range\r\n");
    assert_eq!(reply(&mut s, "SELECT"), "-ERR wrong number of arguments for 'select' command\r\n");
    assert_eq!(reply(&mut s, "SELECT 0 1"), "-ERR wrong number of arguments for 'select' command\r\n");
    assert_eq!(reply(&mut s, "AUTH a b c"), "-ERR wrong number of arguments for 'auth' command\r\n");
    assert_eq!(reply(&mut s, "AUTH"), "-ERR wrong number of arguments for 'auth' command\r\n");
    assert_eq!(reply(&mut s, "AUTH nobody pw"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_eq!(reply(&mut s, "HELLO two"), "-ERR Protocol version is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, "HELLO 2 FOO"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "HELLO 2 AUTH default"), "-ERR syntax error\r\n");
    assert_eq!(
        reply(&mut s, "HELLO 2 AUTH nobody pw"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        reply(&mut s, "HELLO"),
        "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:1\r\n\
         $4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    );
    assert_eq!(reply(&mut s, "CONFIG"), "-ERR wrong number of arguments for 'config' command\r\n");
    assert_eq!(reply(&mut s, "CONFIG GET"), "-ERR unknown subcommand 'GET'\r\n");
    assert_eq!(reply(&mut s, "config resetstat"), "+OK\r\n");
    assert_eq!(reply(&mut s, "CONFIG RESETSTAT now"), "-ERR unknown subcommand 'RESETSTAT'\r\n");
    assert_eq!(reply(&mut s, "CONFIG REWRITE"), "-ERR this server's configuration is set by its boot arguments\r\n");
    assert_eq!(reply(&mut s, "CONFIG bogus\u{7}x"), "-ERR unknown subcommand 'bogusx'\r\n");
    assert_eq!(
        reply(&mut s, "CONFIG GET data* *memory"),
        "*4\r\n$9\r\ndatabases\r\n$1\r\n1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(reply(&mut s, "SAVE"), "+OK\r\n");
    assert_eq!(reply(&mut s, "BGSAVE now"), "+Background saving started\r\n");
    let (out, effect) = exec(&mut s, "QUIT");
    assert_eq!((out.as_str(), effect), ("+OK\r\n", Effect { wrote: false, quit: true }));
    assert_eq!(reply(&mut s, "quit now"), "+OK\r\n");
}

#[test]
fn unknown_commands_are_named_in_the_error() {
    let mut s = Db::default();
    assert_eq!(reply(&mut s, "GETX k"), "-ERR unknown command 'GETX'\r\n");
    assert_eq!(reply(&mut s, "LPUSH l a"), "-ERR unknown command 'LPUSH'\r\n");
    assert_eq!(reply(&mut s, "a\u{1}b\u{7f}c"), "-ERR unknown command 'abc'\r\n");
    let long = "X".repeat(100);
    assert_eq!(reply(&mut s, &long), format!("-ERR unknown command '{}'\r\n", &long[..64]));
    // Invalid UTF-8 is shown replaced.
    let mut out = Vec::new();
    let args: [&[u8]; 1] = [b"\xffGET"];
    let counters = Counters { commands: 0, connections: 0, connected: 0, durability: "always" };
    {
        let mut reply = Reply(&mut out);
        let mut future = pin!(run(&mut s.store, &s.scans, &args, &LIMITS, &counters, s.now, &mut reply));
        assert!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
    }
    assert_eq!(String::from_utf8(out).unwrap(), "-ERR unknown command '\u{fffd}GET'\r\n");
}

#[test]
fn every_command_counts_its_arguments() {
    let mut s = Db::default();
    for command in [
        "GET",
        "GET a b",
        "SET k",
        "SETNX k",
        "SETNX k v w",
        "GETSET k",
        "SETEX k 1",
        "PSETEX k 1 v w",
        "GETEX",
        "GETDEL",
        "GETDEL a b",
        "STRLEN",
        "APPEND k",
        "INCR",
        "INCR a b",
        "DECR",
        "INCRBY k",
        "DECRBY k 1 2",
        "TYPE",
        "TTL",
        "PTTL a b",
        "EXPIRETIME",
        "PEXPIRETIME a b",
        "PERSIST",
        "EXPIRE k",
        "PEXPIRE k",
        "EXPIREAT",
        "PEXPIREAT k",
        "SCAN",
        "MSET",
        "MSET k",
        "MSET a 1 b",
        "MGET",
        "DEL",
        "UNLINK",
        "EXISTS",
        "KEYS",
        "KEYS a b",
    ] {
        let name = command.split(' ').next().unwrap().to_ascii_lowercase();
        assert_eq!(
            reply(&mut s, command),
            format!("-ERR wrong number of arguments for '{name}' command\r\n"),
            "{command}"
        );
    }
    // These take any arguments.
    assert_eq!(reply(&mut s, "DBSIZE please"), ":0\r\n");
    assert!(reply(&mut s, "INFO a b c").starts_with("$"));
    assert_eq!(reply(&mut s, "FLUSHDB a b"), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, "FLUSHALL async"), "+OK\r\n");
    assert_eq!(reply(&mut s, "flushall SYNC"), "+OK\r\n");
}

#[test]
fn keys_and_values_over_the_limits() {
    let mut s = Db::default();
    let long_key = "k".repeat(65);
    let long_value = "v".repeat(25);
    let key_error = "-ERR key is 65 bytes, longer than the limit of 64\r\n";
    let value_error = "-ERR value is 25 bytes, longer than the limit of 24\r\n";
    for command in [
        "GET {k}",
        "SET {k} v",
        "SETNX {k} v",
        "GETSET {k} v",
        "SETEX {k} 5 v",
        "APPEND {k} v",
        "INCR {k}",
        "DECRBY {k} 2",
        "MSET a 1 {k} 2",
    ] {
        let command = command.replace("{k}", &long_key);
        assert_eq!(reply(&mut s, &command), key_error, "{command}");
    }
    for command in ["SET k {v}", "SETNX k {v}", "GETSET k {v}", "PSETEX k 5 {v}", "MSET a 1 b {v}"] {
        let command = command.replace("{v}", &long_value);
        assert_eq!(reply(&mut s, &command), value_error, "{command}");
    }
    // The first refused pair of MSET, key before value; nothing is set.
    assert_eq!(reply(&mut s, &format!("MSET a {long_value} {long_key} 1")), value_error);
    assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
    // Checked after the options and the time, as Redis orders it.
    assert_eq!(reply(&mut s, &format!("SET {long_key} v BOGUS")), "-ERR syntax error\r\n");
    assert_eq!(reply(&mut s, &format!("SETEX {long_key} 0 v")), "-ERR invalid expire time in 'setex' command\r\n");
    assert_eq!(reply(&mut s, &format!("INCRBY {long_key} x")), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(reply(&mut s, &format!("DECRBY {long_key} -9223372036854775808")), "-ERR decrement would overflow\r\n");
    // Commands that only look a key up take any key.
    for command in ["STRLEN {k}", "EXISTS {k}", "DEL {k}", "TTL {k}", "PERSIST {k}", "EXPIRE {k} 5"] {
        let command = command.replace("{k}", &long_key);
        assert!(reply(&mut s, &command).starts_with(':'), "{command}");
    }
    assert_eq!(reply(&mut s, &format!("MGET {long_key}")), "*1\r\n$-1\r\n");
    assert_eq!(reply(&mut s, &format!("GETDEL {long_key}")), "$-1\r\n");
    assert_eq!(reply(&mut s, &format!("GETEX {long_key}")), "$-1\r\n");
    assert_eq!(reply(&mut s, &format!("TYPE {long_key}")), "+none\r\n");
}

#[test]
fn many_keys_at_once() {
    let mut s = Db::default();
    assert!(exec(&mut s, "MSET a 1 b 2 c 3").1.wrote);
    assert_eq!(reply(&mut s, "MGET a x c"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
    assert_eq!(reply(&mut s, "EXISTS a a x b"), ":3\r\n");
    assert_eq!(reply(&mut s, "KEYS [ab]"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(reply(&mut s, "DBSIZE"), ":3\r\n");
    let (out, effect) = exec(&mut s, "DEL a x a");
    assert_eq!((out.as_str(), effect.wrote), (":1\r\n", true));
    let (out, effect) = exec(&mut s, "UNLINK x y");
    assert_eq!((out.as_str(), effect.wrote), (":0\r\n", false));
    assert_eq!(reply(&mut s, "unlink b c"), ":2\r\n");
    assert_eq!(reply(&mut s, "KEYS *"), "*0\r\n");
}

#[test]
fn info_sections() {
    let mut s = Db::default();
    reply(&mut s, "SET k v");
    let all = reply(&mut s, "INFO");
    for title in ["# Server\r\n", "# Clients\r\n", "# Stats\r\n", "# Persistence\r\n", "# Keyspace\r\n"] {
        assert!(all.contains(title), "{title} in {all}");
    }
    assert_eq!(reply(&mut s, "INFO everything"), all);
    assert_eq!(reply(&mut s, "INFO default"), all);
    assert_eq!(reply(&mut s, "INFO bogus"), "$0\r\n\r\n");
    assert_eq!(
        reply(&mut s, "INFO persistence KEYSPACE"),
        "$96\r\n# Persistence\r\nstorage:memory\r\ndurability:always\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"
    );
    assert_eq!(
        reply(&mut s, "INFO server"),
        "$71\r\n# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nserver:oasis-kv\r\n\r\n"
    );
}

/// Reads SCAN's reply: the next cursor and the keys.
fn parse_scan(reply: &str) -> (String, Vec<String>) {
    let mut lines = reply.split("\r\n");
    assert_eq!(lines.next(), Some("*2"), "{reply}");
    lines.next();
    let cursor = lines.next().unwrap().to_string();
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    let keys = (0..n).map(|_| {
        lines.next();
        lines.next().unwrap().to_string()
    });
    (cursor, keys.collect())
}

/// Words commands are made of: names, options, and numbers at the
/// edges of what deadlines can hold.
const WORDS: &[&str] = &[
    "SET",
    "GET",
    "SETEX",
    "PSETEX",
    "GETEX",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "PERSIST",
    "INCR",
    "INCRBY",
    "APPEND",
    "DEL",
    "EXISTS",
    "KEYS",
    "SCAN",
    "DBSIZE",
    "MSET",
    "GETSET",
    "SETNX",
    "FLUSHDB",
    "INFO",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "NX",
    "XX",
    "GT",
    "LT",
    "PERSIST",
    "GET",
    "k",
    "j",
    "*",
    "0",
    "1",
    "-1",
    "10",
    "1700000000",
    "1700000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775",
    "18446744073709551615",
];

proptest::proptest! {
    /// Any sequence of these commands, with time passing, gets a reply
    /// and never panics, and the key count agrees with KEYS.
    #[test]
    fn commands_with_deadlines_never_panic(
        commands in proptest::collection::vec(
            (proptest::collection::vec(0..WORDS.len(), 1..7), 0u64..5000),
            1..40,
        ),
    ) {
        let mut db = Db::default();
        for (words, wait) in commands {
            let command: Vec<&str> = words.iter().map(|&i| WORDS[i]).collect();
            let (out, effect) = exec(&mut db, &command.join(" "));
            proptest::prop_assert!(!out.is_empty(), "{command:?} got no reply");
            // Only commands flagged as writes write.
            let write = table::lookup(command[0].as_bytes()).is_some_and(|spec| spec.flags.contains(Flags::WRITE));
            proptest::prop_assert!(write || !effect.wrote, "{command:?} wrote");
            db.now += wait;
            let keys = reply(&mut db, "KEYS *");
            let count: usize = keys.lines().next().unwrap()[1..].parse().unwrap();
            proptest::prop_assert_eq!(reply(&mut db, "DBSIZE"), format!(":{count}\r\n"));
        }
    }

    /// SCAN's guarantee: every key present for the whole iteration is
    /// returned, whatever is added and removed between the calls.
    #[test]
    fn scan_returns_every_key_present_throughout(
        initial in proptest::collection::btree_set("[a-e]{1,3}", 0..40),
        changes in proptest::collection::vec(("[a-e]{1,3}", proptest::prelude::any::<bool>()), 0..60),
        count in 1usize..6,
    ) {
        let mut db = Db::default();
        for k in &initial {
            reply(&mut db, &format!("SET {k} v"));
        }
        let mut throughout = initial.clone();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = String::from("0");
        let mut changes = changes.iter();
        for round in 0.. {
            proptest::prop_assert!(round < 1000, "SCAN never ended");
            let (next, keys) = parse_scan(&reply(&mut db, &format!("SCAN {cursor} COUNT {count}")));
            seen.extend(keys);
            cursor = next;
            if cursor == "0" {
                break;
            }
            if let Some((key, add)) = changes.next() {
                if *add {
                    reply(&mut db, &format!("SET {key} v"));
                } else {
                    reply(&mut db, &format!("DEL {key}"));
                    throughout.remove(key);
                }
            }
        }
        proptest::prop_assert!(
            throughout.is_subset(&seen),
            "missed {:?}",
            throughout.difference(&seen).collect::<Vec<_>>()
        );
    }
}
