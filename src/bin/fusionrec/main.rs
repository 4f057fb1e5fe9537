//! The `fusionrec` command-line tool (native only; see `fusionrec --help`): argument parsing and
//! printing over the library.

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod experiment;
#[cfg(not(target_arch = "wasm32"))]
mod federated;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// glibc's malloc, tuned for training: burn's CPU backend allocates and frees a fresh buffer of
/// megabytes for nearly every tensor operation (a `[batch, items]` score block is ~6 MB). By
/// default glibc serves such blocks with `mmap` (or trims them off the heap top) and hands them
/// back to the kernel on free, so every step page-faults its buffers in again: ~15% of a
/// two-tower epoch was kernel page-fault and zeroing time (`perf record`, ML-100K). Blocks up to
/// 32 MB (glibc's ceiling for this setting) now come from the heap, which is neither trimmed
/// nor shrunk below what training last used. Measured with `bench/speed_graph.py`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

#[cfg(all(
    not(target_arch = "wasm32"),
    not(all(target_os = "linux", target_env = "gnu"))
))]
fn keep_freed_memory() {}

#[cfg(target_arch = "wasm32")]
fn main() {}
