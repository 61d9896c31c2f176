//! UPDATE messages are hostile: parsing and applying never panic, a
//! refused update leaves the zone as it was, and an applied one leaves a
//! servable zone whose journal replays to the same result.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oasis_dns::zone::{ParseOptions, Zone, parse_zone};
use oasis_dns::{Name, update};

const ZONE: &str = "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n@ NS ns2\nns A 192.0.2.1\nwww CNAME ns\nmail MX 10 ns\n\
a.b.c TXT \"x\"\n*.w A 192.0.2.2\nsub NS ns.sub\nns.sub A 192.0.2.3\n";

fn zone() -> &'static Zone {
    static Z: OnceLock<Zone> = OnceLock::new();
    Z.get_or_init(|| {
        let origin = Name::from_text("example.com.", None).expect("valid origin");
        parse_zone(ZONE.as_bytes(), ParseOptions { file_name: "z", origin, default_ttl: None, include: None })
            .expect("fixture zone loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(u) = update::parse_update(data) else { return };
    let mut z = zone().clone();
    match update::apply(&mut z, &u) {
        Err(_) => assert_eq!(&z, zone()),
        Ok(changes) => {
            z.check_servable().expect("an update keeps the zone servable");
            let journal = oasis_dns::store::encode_journal(&changes);
            let mut replayed = zone().clone();
            oasis_dns::store::replay(
                &mut replayed,
                &oasis_dns::store::decode_journal(&journal).expect("journal reads"),
            )
            .expect("journal replays");
            assert!(replayed.records().eq(z.records()));
        }
    }
});
