//! A guard against YAML alias bombs ("billion laughs"): before a manifest file is parsed into
//! objects, its documents are walked once without building anything, counting every node the
//! alias expansion would produce, and the file is refused when that count outgrows what its
//! size can explain. serde_yaml_ng's own repetition limit bounds alias *jumps*, not the nodes
//! each jump copies, so a large anchor aliased many times could still take gigabytes.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// Nodes allowed per byte of the file, on top of [`BASE_NODES`]; a plain file has well under
/// one node per byte.
const NODES_PER_BYTE: u64 = 2;
/// Nodes allowed whatever the file's size.
const BASE_NODES: u64 = 100_000;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}: YAML aliases expand to more than {limit} nodes (an alias bomb?); refusing to parse it"
)]
pub struct AliasBomb {
    /// The file, relative to the app path.
    pub file: String,
    /// The node budget that was exceeded.
    pub limit: u64,
}

/// Refuses `text` when expanding its aliases would produce more nodes than its size allows.
/// Files without `*` (no alias) and files that are not valid YAML pass: the parser reports
/// those.
pub fn check_alias_expansion(file: &str, text: &str) -> Result<(), AliasBomb> {
    if !text.contains('*') {
        return Ok(());
    }
    let limit = BASE_NODES.saturating_add(NODES_PER_BYTE.saturating_mul(text.len() as u64));
    let budget = Cell::new(limit);
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        // Other parse errors are the parser's to report; the walk stops at the first one
        // (the documents after an error are not walked).
        if let Err(e) = (Counter { budget: &budget }).deserialize(document) {
            if budget.get() == 0 || e.to_string().contains("repetition limit exceeded") {
                return Err(AliasBomb { file: file.to_string(), limit });
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Walks one value, spending one unit of `budget` per node; fails when it runs out.
#[derive(Clone, Copy)]
struct Counter<'a> {
    budget: &'a Cell<u64>,
}

impl Counter<'_> {
    fn spend<E: serde::de::Error>(self) -> Result<(), E> {
        match self.budget.get() {
            0 => Err(E::custom("node budget exhausted")),
            n => {
                self.budget.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! leaf {
    ($($name:ident: $ty:ty),*) => {
        $(fn $name<E: serde::de::Error>(self, _: $ty) -> Result<(), E> { self.spend() })*
    };
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    leaf!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str,
          visit_i128: i128, visit_u128: u128, visit_bytes: &[u8]);

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.spend()
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.spend()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend()?;
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend()?;
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        self.spend()?;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = check_alias_expansion("bomb.yaml", &bomb).expect_err("a bomb");
        assert!(err.to_string().starts_with("bomb.yaml: YAML aliases expand to more than"));
    }

    #[test]
    fn a_wide_anchor_aliased_many_times_is_refused() {
        // Quadratic growth that stays under serde_yaml_ng's repetition limit.
        let items = vec!["x"; 20_000].join(",");
        let mut text = format!("base: &base [{items}]\nrefs:\n");
        for _ in 0..20_000 {
            text.push_str("- *base\n");
        }
        assert!(check_alias_expansion("wide.yaml", &text).is_err());
    }

    #[test]
    fn ordinary_anchors_and_plain_files_pass() {
        let text = "defaults: &d {cpu: 1, memory: 2}\nweb: *d\napi: *d\n---\nkind: ConfigMap\ndata: {glob: \"*.txt\"}\n";
        assert_eq!(check_alias_expansion("ok.yaml", text), Ok(()));
        assert_eq!(check_alias_expansion("plain.yaml", "kind: ConfigMap\n"), Ok(()));
        assert_eq!(check_alias_expansion("broken.yaml", "a: *missing\n"), Ok(()));
    }
}
