//! Shared by the integration tests: the real MovieLens-100K data, fetched by the test script.

use std::path::PathBuf;

use fusionrec::data::DataSource;

/// The ML-100K folder (`FUSIONREC_ML100K`, default `data/ml-100k`). The test script fetches it
/// first; a missing folder fails the test rather than skipping it.
pub fn ml100k_source() -> DataSource {
    let dir = std::env::var_os("FUSIONREC_ML100K")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/ml-100k"));
    assert!(
        dir.join("ml-100k.inter").is_file(),
        "MovieLens-100K is missing from {}: run `cargo run --release -- fetch movielens-100k`",
        dir.display()
    );
    DataSource::detect(&dir).expect("a RecBole folder")
}
