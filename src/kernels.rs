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
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
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
}
