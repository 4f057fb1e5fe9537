//! Catalog-sized string lists held compactly: ids, titles and categories of 10⁶ items.
//!
//! A `Vec<String>` costs 24 bytes of header and one heap allocation per string; an id map that
//! also keys a `HashMap<String, u32>` holds every id twice. At a million items that was ≈ 100
//! bytes per item for the ids alone, more than the item's int8 vector. Here every list is one
//! text buffer plus one end offset per entry, and the id index is a hash table of `u32` indices
//! that hashes the buffer's slices ([`hashbrown::HashTable`]): ids cost their bytes plus ≈ 13.
//! Serde reads and writes them as plain JSON lists, appending straight into the buffer.

use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A list of strings in one buffer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Strings {
    text: String,
    ends: Vec<usize>,
}

impl Strings {
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    fn reserve(&mut self, entries: usize) {
        self.ends.reserve(entries);
    }
}

impl fmt::Debug for Strings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().take(8)).finish()?;
        if self.len() > 8 {
            write!(f, " (+{} more)", self.len() - 8)?;
        }
        Ok(())
    }
}

impl<'a> FromIterator<&'a str> for Strings {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut s = Strings::default();
        iter.into_iter().for_each(|x| s.push(x));
        s
    }
}

/// Reads a JSON list of strings (or of nulls and strings, `allow_null`) into a [`Strings`],
/// with a presence flag per entry; borrowed strings are appended without an allocation each.
struct ListVisitor {
    allow_null: bool,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = (Strings, Vec<bool>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.allow_null {
            "a list of strings or nulls"
        } else {
            "a list of strings"
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Strings::default();
        out.reserve(seq.size_hint().unwrap_or(0).min(1 << 20));
        let mut present = Vec::new();
        while let Some(s) = seq.next_element::<Entry>()? {
            match s.0 {
                Some(s) => {
                    out.push(&s);
                    present.push(true);
                }
                None if self.allow_null => {
                    out.push("");
                    present.push(false);
                }
                None => return Err(serde::de::Error::custom("expected a string, found null")),
            }
        }
        Ok((out, present))
    }
}

/// One list entry: a string (borrowed from the input when it has no escapes) or null.
struct Entry<'a>(Option<std::borrow::Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Entry(Some(v.into())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Entry(Some(v.to_owned().into())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Entry(Some(v.into())))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Entry(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Entry(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_option(V)
    }
}

impl Serialize for Strings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for x in self.iter() {
            seq.serialize_element(x)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(d.deserialize_seq(ListVisitor { allow_null: false })?.0)
    }
}

/// Optional strings (item titles): [`Strings`] with a presence flag per entry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Titles {
    strings: Strings,
    present: Vec<bool>,
}

impl Titles {
    pub fn push(&mut self, title: Option<&str>) {
        self.strings.push(title.unwrap_or_default());
        self.present.push(title.is_some());
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        match self.present.get(i)? {
            true => self.strings.get(i),
            false => None,
        }
    }

    pub fn len(&self) -> usize {
        self.present.len()
    }

    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
}

impl fmt::Debug for Titles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Titles({:?})", self.strings)
    }
}

impl<'a> FromIterator<Option<&'a str>> for Titles {
    fn from_iter<I: IntoIterator<Item = Option<&'a str>>>(iter: I) -> Self {
        let mut t = Titles::default();
        iter.into_iter().for_each(|x| t.push(x));
        t
    }
}

impl Serialize for Titles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for i in 0..self.len() {
            seq.serialize_element(&self.get(i))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Titles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (strings, present) = d.deserialize_seq(ListVisitor { allow_null: true })?;
        Ok(Titles { strings, present })
    }
}

/// Each item's categories (genres, tags): the distinct names once, and per item a run of
/// indices into them.
#[derive(Clone, Default, PartialEq)]
pub struct Categories {
    names: IdMap,
    ends: Vec<usize>,
    of: Vec<u32>,
}

impl Categories {
    pub fn push<'a>(&mut self, categories: impl IntoIterator<Item = &'a str>) {
        for c in categories {
            let i = self.names.get_or_insert(c);
            self.of.push(i);
        }
        self.ends.push(self.of.len());
    }

    /// Item `i`'s categories (none past the end).
    pub fn get(&self, i: usize) -> impl Iterator<Item = &str> + '_ {
        self.indices(i).iter().map(|&c| self.names.id(c))
    }

    /// Item `i`'s category indices (none past the end).
    pub fn indices(&self, i: usize) -> &[u32] {
        match self.ends.get(i) {
            Some(&end) => &self.of[if i == 0 { 0 } else { self.ends[i - 1] }..end],
            None => &[],
        }
    }

    /// How many distinct categories there are.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// The index of category `name`, if any item has it.
    pub fn category(&self, name: &str) -> Option<u32> {
        self.names.get(name)
    }

    /// Whether item `i` has the category of index `c`.
    pub fn has(&self, i: usize, c: u32) -> bool {
        self.indices(i).contains(&c)
    }

    /// Items listed (0 when the dataset has no categories).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether no item has any category.
    pub fn none_assigned(&self) -> bool {
        self.of.is_empty()
    }
}

impl fmt::Debug for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Categories({} items, names {:?})",
            self.len(),
            self.names
        )
    }
}

impl Serialize for Categories {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Row<'a>(&'a Categories, usize);
        impl Serialize for Row<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.get(self.1))
            }
        }
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for i in 0..self.len() {
            seq.serialize_element(&Row(self, i))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Categories {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(CategoriesVisitor)
    }
}

struct CategoriesVisitor;

impl<'de> Visitor<'de> for CategoriesVisitor {
    type Value = Categories;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of lists of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Categories, A::Error> {
        let mut out = Categories::default();
        while seq.next_element_seed(RowSeed(&mut out))?.is_some() {}
        Ok(out)
    }
}

/// Reads one item's category list into the table.
struct RowSeed<'t>(&'t mut Categories);

impl<'de> serde::de::DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V<'t>(&'t mut Categories);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some(Entry(c)) = seq.next_element::<Entry>()? {
                    let c = c.ok_or_else(|| serde::de::Error::custom("null category"))?;
                    let i = self.0.names.get_or_insert(&c);
                    self.0.of.push(i);
                }
                self.0.ends.push(self.0.of.len());
                Ok(())
            }
        }
        d.deserialize_seq(V(self.0))
    }
}

/// Two-way map between external ids and dense indices, in order of first appearance.
#[derive(Clone, Default)]
pub struct IdMap {
    ids: Strings,
    /// Indices into `ids`, hashed by the id they name.
    index: HashTable<u32>,
    hasher: RandomState,
}

impl IdMap {
    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    pub fn get_or_insert(&mut self, id: &str) -> u32 {
        if let Some(i) = self.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id);
        let (ids, hasher) = (&self.ids, &self.hasher);
        let h = hasher.hash_one(id);
        self.index.insert_unique(h, i, |&j| {
            hasher.hash_one(ids.get(j as usize).unwrap_or_default())
        });
        i
    }

    pub fn get(&self, id: &str) -> Option<u32> {
        let h = self.hash(id);
        self.index
            .find(h, |&j| self.ids.get(j as usize) == Some(id))
            .copied()
    }

    /// The external id of index `i`. Panics if `i` is out of range (indices come from this map).
    pub fn id(&self, i: u32) -> &str {
        self.ids
            .get(i as usize)
            .unwrap_or_else(|| panic!("index {i} is outside an id map of {}", self.len()))
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.ids.iter()
    }
}

impl PartialEq for IdMap {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl fmt::Debug for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdMap({:?})", self.ids)
    }
}

impl From<Vec<String>> for IdMap {
    fn from(ids: Vec<String>) -> Self {
        ids.iter().map(String::as_str).collect()
    }
}

impl<'a> FromIterator<&'a str> for IdMap {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut map = IdMap::default();
        iter.into_iter().for_each(|id| {
            map.get_or_insert(id);
        });
        map
    }
}

impl Serialize for IdMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ids.serialize(s)
    }
}

/// A stored id list (a bundle manifest's `users`/`items`) is read back only if every id is
/// there once.
impl<'de> Deserialize<'de> for IdMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (ids, _) = d.deserialize_seq(ListVisitor { allow_null: false })?;
        let mut map = IdMap {
            index: HashTable::with_capacity(ids.len()),
            ..IdMap::default()
        };
        for (i, id) in ids.iter().enumerate() {
            let h = map.hash(id);
            if map
                .index
                .find(h, |&j| ids.get(j as usize) == Some(id))
                .is_some()
            {
                return Err(serde::de::Error::custom(format!("duplicate id '{id}'")));
            }
            let hasher = &map.hasher;
            map.index.insert_unique(h, i as u32, |&j| {
                hasher.hash_one(ids.get(j as usize).unwrap_or_default())
            });
        }
        map.ids = ids;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_through_json_and_ids_are_indexed() {
        let ids: IdMap = ["b", "a", "b", "c\"q"].into_iter().collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids.get("c\"q"), Some(2));
        assert_eq!(ids.get("z"), None);
        let json = serde_json::to_string(&ids).unwrap();
        assert_eq!(json, r#"["b","a","c\"q"]"#);
        let back: IdMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ids);
        assert_eq!(back.get("a"), Some(1));
        let dup = serde_json::from_str::<IdMap>(r#"["x","y","x"]"#).unwrap_err();
        assert!(dup.to_string().contains("duplicate id 'x'"), "{dup}");
        assert!(serde_json::from_str::<IdMap>(r#"["x",null]"#).is_err());

        let titles: Titles = serde_json::from_str(r#"["A film",null,""]"#).unwrap();
        assert_eq!(
            (titles.get(0), titles.get(1), titles.get(2), titles.get(3)),
            (Some("A film"), None, Some(""), None)
        );
        assert_eq!(
            serde_json::to_string(&titles).unwrap(),
            r#"["A film",null,""]"#
        );

        let cats: Categories = serde_json::from_str(r#"[["x","y"],[],["y"]]"#).unwrap();
        assert_eq!(cats.len(), 3);
        assert_eq!(cats.get(0).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(cats.get(1).count(), 0);
        let y = cats.category("y").unwrap();
        assert!(cats.has(0, y) && !cats.has(1, y) && cats.has(2, y) && !cats.has(9, y));
        assert_eq!(
            serde_json::to_string(&cats).unwrap(),
            r#"[["x","y"],[],["y"]]"#
        );
        assert!(serde_json::from_str::<Categories>(r#"[["x",null]]"#).is_err());
    }
}
