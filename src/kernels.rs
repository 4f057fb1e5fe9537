//! Small numeric kernels shared by training, scoring and the browser — written so that the
//! compiler vectorises them (SSE/AVX natively, SIMD128 in wasm) while every target sums in the
//! same order: native and browser scores stay bit-identical.

/// Lanes of independent partial sums: a single running sum is a serial dependency chain that
/// the compiler may not reorder (float addition is not associative), eight are not.
const LANES: usize = 8;

/// `a · b` (over the shorter length).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let acc = simd128::lanes(a, b, 1.0, |x, _| x);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let acc = {
        let mut acc = [0f32; LANES];
        for (x, y) in ca.zip(cb) {
            for l in 0..LANES {
                acc[l] += x[l] * y[l];
            }
        }
        acc
    };
    acc.iter().sum::<f32>() + tail
}

/// wasm32's SIMD128 builds of the eight-lane loops: LLVM leaves them scalar in wasm (measured:
/// 98 ms for a 10⁶ × 64 int8 catalog). Each lane does exactly the portable loop's operations in
/// the same order (f32x4 multiply and add are IEEE per lane), so results are bit-identical to
/// the native ones.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    /// Lanes of types the loop reads: f32 rows, or int8 rows widened to f32.
    pub(super) trait Row: Copy {
        /// Elements `i..i + 8` as two f32x4. Safety: `i + 8 ≤ row.len()`.
        unsafe fn load8(row: &[Self], i: usize) -> (v128, v128);
    }

    impl Row for f32 {
        #[inline(always)]
        unsafe fn load8(row: &[f32], i: usize) -> (v128, v128) {
            let p = row.as_ptr().add(i);
            (
                v128_load(p as *const v128),
                v128_load(p.add(4) as *const v128),
            )
        }
    }

    impl Row for i8 {
        #[inline(always)]
        unsafe fn load8(row: &[i8], i: usize) -> (v128, v128) {
            let q16 = i16x8_extend_low_i8x16(v128_load64_zero(row.as_ptr().add(i) as *const u64));
            (
                f32x4_convert_i32x4(i32x4_extend_low_i16x8(q16)),
                f32x4_convert_i32x4(i32x4_extend_high_i16x8(q16)),
            )
        }
    }

    /// The eight lane sums `acc[l] = Σ_c f(row[8c + l], s) · b[8c + l]` over whole chunks, with
    /// `f` the per-element transform (`x` for f32 rows, `x · s` for int8 ones, given as a
    /// multiply by `s` when `scaled`).
    #[inline(always)]
    pub(super) fn lanes<T: Row>(
        row: &[T],
        b: &[f32],
        s: f32,
        scaled: impl Fn(v128, v128) -> v128,
    ) -> [f32; 8] {
        let n = row.len().min(b.len()) / 8 * 8;
        let sv = f32x4_splat(s);
        let (mut lo, mut hi) = (f32x4_splat(0.0), f32x4_splat(0.0));
        let mut i = 0;
        while i < n {
            // SAFETY: i + 8 ≤ n ≤ both lengths.
            let (xlo, xhi) = unsafe { T::load8(row, i) };
            let (blo, bhi) = unsafe { f32::load8(b, i) };
            lo = f32x4_add(lo, f32x4_mul(scaled(xlo, sv), blo));
            hi = f32x4_add(hi, f32x4_mul(scaled(xhi, sv), bhi));
            i += 8;
        }
        [
            f32x4_extract_lane::<0>(lo),
            f32x4_extract_lane::<1>(lo),
            f32x4_extract_lane::<2>(lo),
            f32x4_extract_lane::<3>(lo),
            f32x4_extract_lane::<0>(hi),
            f32x4_extract_lane::<1>(hi),
            f32x4_extract_lane::<2>(hi),
            f32x4_extract_lane::<3>(hi),
        ]
    }
}

/// `p · (qi − qj)`: BPR's score difference in one pass.
#[inline]
pub fn dot_diff(p: &[f32], qi: &[f32], qj: &[f32]) -> f32 {
    let n = p.len().min(qi.len()).min(qj.len());
    let (p, qi, qj) = (&p[..n], &qi[..n], &qj[..n]);
    let mut acc = [0f32; LANES];
    let (cp, ci, cj) = (
        p.chunks_exact(LANES),
        qi.chunks_exact(LANES),
        qj.chunks_exact(LANES),
    );
    let tail: f32 = (cp
        .remainder()
        .iter()
        .zip(ci.remainder())
        .zip(cj.remainder()))
    .map(|((x, a), b)| x * (a - b))
    .sum();
    for ((x, a), b) in cp.zip(ci).zip(cj) {
        for l in 0..LANES {
            acc[l] += x[l] * (a[l] - b[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `out[r] = rows[r] · q` for each row of `rows` (row-major, width `q.len()`).
pub fn matvec(rows: &[f32], q: &[f32], out: &mut [f32]) {
    let d = q.len().max(1);
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
        *o = dot(row, q);
    }
}

/// `q × scale`, row by row (`width` values per scale): the one int8 decoding, shared by bundles
/// and kept int8 item vectors, and the value [`dot_q8`] computes with.
pub fn dequantize_rows(q: &[i8], scales: &[f32], width: usize) -> Vec<f32> {
    q.chunks(width.max(1))
        .zip(scales)
        .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
        .collect()
}

/// `(q ⊙ s) · b` for an int8 row `q` with scale `s`: exactly [`dot`] of the decoded row
/// (each entry `f32::from(q) * s`, the value an int8 bundle decodes to) with `b`, same lanes,
/// same order — so scoring a kept int8 matrix gives bit-identical scores to scoring its decoded
/// copy, without the copy.
#[inline]
pub fn dot_q8(q: &[i8], s: f32, b: &[f32]) -> f32 {
    let n = q.len().min(b.len());
    let (q, b) = (&q[..n], &b[..n]);
    let (cq, cb) = (q.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = cq
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, y)| (f32::from(x) * s) * y)
        .sum();
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let acc = simd128::lanes(q, b, s, |x, s| core::arch::wasm32::f32x4_mul(x, s));
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let acc = {
        let mut acc = [0f32; LANES];
        for (x, y) in cq.zip(cb) {
            for l in 0..LANES {
                acc[l] += (f32::from(x[l]) * s) * y[l];
            }
        }
        acc
    };
    acc.iter().sum::<f32>() + tail
}

/// [`matvec`] over int8 rows with one scale per row (see [`dot_q8`]).
pub fn matvec_q8(rows: &[i8], scales: &[f32], q: &[f32], out: &mut [f32]) {
    let d = q.len().max(1);
    for ((o, row), &s) in out.iter_mut().zip(rows.chunks_exact(d)).zip(scales) {
        *o = dot_q8(row, s, q);
    }
}

/// Keeps the `k` best elements of `v` (those `better` orders first), in no particular order: a
/// partial selection, O(len), not a sort.
pub fn keep_best<T>(
    v: &mut Vec<T>,
    k: usize,
    mut better: impl FnMut(&T, &T) -> std::cmp::Ordering,
) {
    if k == 0 {
        v.clear();
    } else if v.len() > k {
        v.select_nth_unstable_by(k - 1, &mut better);
        v.truncate(k);
    }
}

/// The `k` best elements of `v`, best first.
pub fn sorted_best<T>(
    v: &mut Vec<T>,
    k: usize,
    mut better: impl FnMut(&T, &T) -> std::cmp::Ordering,
) {
    keep_best(v, k, &mut better);
    v.sort_unstable_by(better);
}

/// `out = x · w + bias`: `x` is `[m, k]`, `w` `[k, n]`, `out` `[m, n]`, row-major — a dense
/// layer over token rows (MiniLM's linears in the browser, see `encode::text`). Every output is
/// `bias[c]` plus the products `x[r, j] · w[j, c]` added one by one in `j` order (separate
/// multiply and add, no fused multiply-add), on every target: the wasm SIMD128 build computes
/// exactly the portable loop's values. Tiles of 4 rows × 8 columns keep their 8 sums in
/// registers (gemm's 12-row × 4-column SIMD128 tile does not fit the 16 registers of an x86
/// browser); blocks of 64 rows share each pass over an 8-column panel of `w`.
pub fn linear(x: &[f32], w: &[f32], bias: &[f32], k: usize, out: &mut [f32]) {
    linear_in(x, w, bias, k, out, false)
}

/// [`linear`] with `w` in the panel order of [`pack_panels`] (the same values): each 8-column
/// panel is one contiguous run instead of 8 floats every `n`, which the CPU prefetches (a row
/// stride of `n` floats crosses a memory page every row or two for MiniLM's 1536-wide layers).
pub fn linear_panels(x: &[f32], w: &[f32], bias: &[f32], k: usize, out: &mut [f32]) {
    linear_in(x, w, bias, k, out, true)
}

/// `w` (`[k, n]` row-major, `n` a multiple of 8) as `n / 8` panels of `[k, 8]`, one after the
/// other: the layout [`linear_panels`] reads.
pub fn pack_panels(w: &[f32], k: usize) -> Vec<f32> {
    let n = w.len() / k.max(1);
    assert!(n % 8 == 0 && w.len() == k * n, "pack_panels: bad shapes");
    let mut out = Vec::with_capacity(w.len());
    for c in (0..n).step_by(8) {
        for j in 0..k {
            out.extend_from_slice(&w[j * n + c..j * n + c + 8]);
        }
    }
    out
}

fn linear_in(x: &[f32], w: &[f32], bias: &[f32], k: usize, out: &mut [f32], packed: bool) {
    let n = bias.len();
    assert!(k > 0 && n > 0 && x.len() % k == 0, "linear: bad shapes");
    let m = x.len() / k;
    assert!(w.len() == k * n && out.len() == m * n, "linear: bad shapes");
    assert!(
        !packed || n % 8 == 0,
        "linear_panels: n must be a multiple of 8"
    );
    const BLOCK: usize = 64;
    let panels = n / 8 * 8;
    for r0 in (0..m).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(m);
        for c in (0..panels).step_by(8) {
            // Safety (every tile below): rows r..r + 4 ≤ m, columns c..c + 8 ≤ n and the panel's
            // k rows of 8 weights lie in `w`, checked above.
            let (wp, ws) = match packed {
                true => (unsafe { w.as_ptr().add(c * k) }, 8),
                false => (unsafe { w.as_ptr().add(c) }, n),
            };
            let mut r = r0;
            while r + 4 <= r1 {
                unsafe { tile4(x, wp, ws, bias, k, n, r, c, out) };
                r += 4;
            }
            unsafe {
                match r1 - r {
                    3 => tile3(x, wp, ws, bias, k, n, r, c, out),
                    2 => tile2(x, wp, ws, bias, k, n, r, c, out),
                    1 => tile1(x, wp, ws, bias, k, n, r, c, out),
                    _ => {}
                }
            }
        }
        for r in r0..r1 {
            for c in panels..n {
                let mut acc = bias[c];
                for j in 0..k {
                    acc += x[r * k + j] * w[j * n + c];
                }
                out[r * n + c] = acc;
            }
        }
    }
}

/// `$name` computes rows `r + $i` (each `$i` listed), columns `c..c + 8` of [`linear`], whose
/// weights `w[j, c..c + 8]` are the 8 floats at `wp + j · ws`. Safety: they are in bounds.
macro_rules! linear_tile {
    ($name:ident, $($i:literal),+) => {
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            x: &[f32],
            wp: *const f32,
            ws: usize,
            bias: &[f32],
            k: usize,
            n: usize,
            r: usize,
            c: usize,
            out: &mut [f32],
        ) {
            let (xp, bp, op) = (x.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            {
                use core::arch::wasm32::*;
                let b = (
                    v128_load(bp.add(c) as *const v128),
                    v128_load(bp.add(c + 4) as *const v128),
                );
                let mut acc = [$({ let _ = $i; b }),+];
                for j in 0..k {
                    let wj = wp.add(j * ws);
                    let w0 = v128_load(wj as *const v128);
                    let w1 = v128_load(wj.add(4) as *const v128);
                    $(
                        let v = f32x4_splat(*xp.add((r + $i) * k + j));
                        acc[$i].0 = f32x4_add(acc[$i].0, f32x4_mul(v, w0));
                        acc[$i].1 = f32x4_add(acc[$i].1, f32x4_mul(v, w1));
                    )+
                }
                $(
                    let o = op.add((r + $i) * n + c);
                    v128_store(o as *mut v128, acc[$i].0);
                    v128_store(o.add(4) as *mut v128, acc[$i].1);
                )+
            }
            #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
            {
                let mut acc = [$({ let _ = $i; [0f32; 8] }),+];
                for row in acc.iter_mut() {
                    for (l, a) in row.iter_mut().enumerate() {
                        *a = *bp.add(c + l);
                    }
                }
                for j in 0..k {
                    let wj = wp.add(j * ws);
                    $(
                        let v = *xp.add((r + $i) * k + j);
                        for (l, a) in acc[$i].iter_mut().enumerate() {
                            *a += v * *wj.add(l);
                        }
                    )+
                }
                $(
                    for (l, a) in acc[$i].iter().enumerate() {
                        *op.add((r + $i) * n + c + l) = *a;
                    }
                )+
            }
        }
    };
}
linear_tile!(tile4, 0, 1, 2, 3);
linear_tile!(tile3, 0, 1, 2);
linear_tile!(tile2, 0, 1);
linear_tile!(tile1, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_k_by_partial_selection() {
        let mut v = vec![5, 1, 4, 2, 3];
        sorted_best(&mut v, 3, |a, b| b.cmp(a));
        assert_eq!(v, [5, 4, 3]);
        let mut v = vec![5, 1, 4];
        keep_best(&mut v, 0, |a, b| b.cmp(a));
        assert!(v.is_empty());
        let mut v = vec![2, 1];
        sorted_best(&mut v, 9, |a, b| a.cmp(b));
        assert_eq!(v, [1, 2]);
    }

    #[test]
    fn dot_and_dot_diff_match_the_definition_at_every_length() {
        for n in [0, 1, 7, 8, 9, 64, 67] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let c: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-4, "n = {n}");
            let naive: f64 = (0..n).map(|k| f64::from(a[k] * (b[k] - c[k]))).sum();
            assert!((f64::from(dot_diff(&a, &b, &c)) - naive).abs() < 1e-4);
        }
        let mut out = [0.0; 2];
        matvec(&[1.0, 2.0, 3.0, 4.0], &[1.0, -1.0], &mut out);
        assert_eq!(out, [-1.0, -1.0]);
    }

    #[test]
    fn int8_rows_score_bit_identically_to_their_decoded_copy() {
        for d in [1, 7, 8, 13, 64] {
            let rows = 5;
            let q: Vec<i8> = (0..rows * d)
                .map(|i| ((i * 37 % 255) as i32 - 127) as i8)
                .collect();
            let scales: Vec<f32> = (0..rows).map(|r| 0.003 + r as f32 * 0.0171).collect();
            let p: Vec<f32> = (0..d).map(|i| (i as f32 * 0.7 + 0.3).sin()).collect();
            let decoded: Vec<f32> = q
                .chunks(d)
                .zip(&scales)
                .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
                .collect();
            let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
            matvec(&decoded, &p, &mut a);
            matvec_q8(&q, &scales, &p, &mut b);
            assert_eq!(
                a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "d = {d}"
            );
            assert!(a.iter().any(|&x| x != 0.0));
        }
    }

    #[test]
    fn linear_adds_bias_and_products_in_order_at_every_shape() {
        for (m, k, n) in [
            (1, 1, 1),
            (1, 3, 8),
            (5, 7, 8),
            (13, 32, 24),
            (4, 5, 11),
            (70, 9, 16),
            (3, 384, 20),
        ] {
            let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let b: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.05).collect();
            let mut out = vec![f32::NAN; m * n];
            linear(&x, &w, &b, k, &mut out);
            for r in 0..m {
                for c in 0..n {
                    let mut acc = b[c];
                    for j in 0..k {
                        acc += x[r * k + j] * w[j * n + c];
                    }
                    assert_eq!(
                        out[r * n + c].to_bits(),
                        acc.to_bits(),
                        "m {m} k {k} n {n} at ({r}, {c})"
                    );
                }
            }
            if n % 8 == 0 {
                let mut packed = vec![f32::NAN; m * n];
                linear_panels(&x, &pack_panels(&w, k), &b, k, &mut packed);
                assert_eq!(
                    packed.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
            }
        }
    }
}
