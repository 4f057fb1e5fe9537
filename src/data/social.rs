//! A user–user graph (friends, follows) over a dataset's users: the social modality.
//!
//! The file is a table whose first two columns are a user and a friend (any header names; a
//! header line is required; tab-separated when the header has a tab, else CSV), as HetRec's
//! `user_friends.dat`. Edges are read as directed, as listed. A row naming a user the
//! interactions do not have is skipped and counted — a friend with no history carries no signal
//! — while a malformed row is an error with its file and line.

use serde::{Deserialize, Serialize};

use super::{file_label, read_text, table_reader, IdMap};
use crate::error::{Error, Result};

/// Each user's friends (user indices), sorted, without duplicates or the user itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserGraph {
    pub friends: Vec<Vec<u32>>,
}

impl UserGraph {
    /// How many directed edges the graph holds.
    pub fn edges(&self) -> usize {
        self.friends.iter().map(Vec::len).sum()
    }
}

/// Reads the graph at `path` over `users`; returns it with the number of rows skipped because a
/// side is not a user of the dataset.
pub fn load_user_graph(path: &std::path::Path, users: &IdMap) -> Result<(UserGraph, usize)> {
    let file = file_label(path);
    let text = read_text(path)?;
    let mut reader = table_reader(&text);
    let bad = |line: usize, message: String| Error::Parse {
        file: file.clone(),
        line,
        message,
    };
    if reader.headers().map_err(|e| bad(1, e.to_string()))?.len() < 2 {
        return Err(bad(
            1,
            "expected a header with two columns: user, friend".into(),
        ));
    }
    let mut friends = vec![Vec::new(); users.len()];
    let mut skipped = 0;
    for record in reader.records() {
        let rec = record
            .map_err(|e| bad(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let (Some(a), Some(b)) = (rec.get(0), rec.get(1)) else {
            return Err(bad(line, "expected two fields: user, friend".into()));
        };
        if a.is_empty() || b.is_empty() {
            return Err(bad(line, "empty user id".into()));
        }
        match (users.get(a), users.get(b)) {
            (Some(a), Some(b)) if a != b => friends[a as usize].push(b),
            (Some(_), Some(_)) => {}
            _ => skipped += 1,
        }
    }
    for f in &mut friends {
        f.sort_unstable();
        f.dedup();
    }
    Ok((UserGraph { friends }, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_edges_skips_unknown_users_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.dat");
        std::fs::write(&p, "userID\tfriendID\nb\ta\nb\tc\nb\ta\nzz\ta\na\ta\n").unwrap();
        let users = IdMap::from(vec!["a".to_string(), "b".into(), "c".into()]);
        let (g, skipped) = load_user_graph(&p, &users).unwrap();
        assert_eq!(g.friends, [vec![], vec![0, 2], vec![]]);
        assert_eq!((g.edges(), skipped), (2, 1));
        std::fs::write(&p, "user,friend\na,b\nc\n").unwrap();
        let e = load_user_graph(&p, &users).unwrap_err();
        assert!(matches!(e, Error::Parse { line: 3, .. }), "{e}");
    }
}
