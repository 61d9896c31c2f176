//! The zones a server is authoritative for.

use alloc::collections::BTreeMap;

use crate::name::Name;
use crate::zone::Zone;

/// Zones by apex. A name belongs to the zone with the longest apex that
/// is a suffix of it (a child zone we also serve wins over its parent).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    zones: BTreeMap<Name, Zone>,
}

impl Catalog {
    /// No zones.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds or replaces the zone with this apex; returns the old one.
    pub fn insert(&mut self, zone: Zone) -> Option<Zone> {
        self.zones.insert(zone.origin().clone(), zone)
    }

    /// Removes a zone.
    pub fn remove(&mut self, origin: &Name) -> Option<Zone> {
        self.zones.remove(origin)
    }

    /// The zone with exactly this apex.
    pub fn zone(&self, origin: &Name) -> Option<&Zone> {
        self.zones.get(origin)
    }

    /// The zone with exactly this apex, to change.
    pub fn zone_mut(&mut self, origin: &Name) -> Option<&mut Zone> {
        self.zones.get_mut(origin)
    }

    /// The zone `name` belongs to.
    pub fn find(&self, name: &Name) -> Option<&Zone> {
        if self.zones.is_empty() {
            return None;
        }
        let mut at = Some(name.clone());
        while let Some(n) = at {
            if let Some(z) = self.zones.get(&n) {
                return Some(z);
            }
            at = n.parent();
        }
        None
    }

    /// All zones in canonical order of their apexes.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }
}
