//! Scoring a history on a burn device — WebGPU in the browser, Flex on the CPU anywhere. The
//! bundle's scoring matrices are uploaded once; each request sends only the history vector and
//! returns the `[n_items]` score tensor, which the caller reads back (asynchronously in the
//! browser) and ranks on the CPU. The rules are those of [`super::score_history`].

use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::Query;
use crate::error::{Error, Result};
use crate::model::{ItemVectors, TrainedModel};

enum Weights<B: Backend> {
    /// Item counts: the scores whatever the history.
    Popularity(Tensor<B, 1>),
    /// Item–item models (item-kNN, EASE) as a dense `[n, n]` matrix: row j holds item j's
    /// neighbour weights; `binary` ignores ratings, as the model was trained. A rank-weighted
    /// model's event weights come in the query's weights, as on the CPU.
    ItemItem { weights: Tensor<B, 2>, binary: bool },
    /// Factor models: item vectors `[n, d]` and, for MF, global + item bias `[n]`.
    Factor {
        items: Tensor<B, 2>,
        bias: Option<Tensor<B, 1>>,
    },
}

/// Item–item models are uploaded as a dense `[n, n]` matrix only up to this many items (64 MB
/// of f32); larger catalogs are scored by the CPU kernels, which read the sparse lists.
pub const DENSE_ITEM_ITEM_MAX: usize = 4096;

/// Factor models' item vectors go to the device in blocks of this many rows, so the page never
/// holds a decoded f32 copy of a large int8 catalog (16 MB per block at 64-d).
const UPLOAD_ROWS: usize = 65_536;

/// A bundle's model held as tensors on one device.
pub struct DeviceScorer<B: Backend> {
    n_items: usize,
    weights: Weights<B>,
    device: B::Device,
}

impl<B: Backend> DeviceScorer<B> {
    /// Whether `model` can be uploaded: item–item models only up to [`DENSE_ITEM_ITEM_MAX`]
    /// items (dense on the device; the CPU kernels read the sparse lists).
    /// A blend is scored on the CPU (each part, then standardised per user).
    pub fn supports(model: &TrainedModel, n_items: usize) -> bool {
        match model {
            TrainedModel::ItemKnn(_) => n_items <= DENSE_ITEM_ITEM_MAX,
            TrainedModel::Blend(_) => false,
            _ => true,
        }
    }

    /// Whether the device would hold far more of `model` than the CPU does: int8 item vectors
    /// are f32 there (four times the bytes), while the CPU kernels read the int8 rows in place
    /// (27 ms for 10⁶ × 64 in Chromium's wasm) without a catalog-sized score read-back.
    pub fn holds_more(model: &TrainedModel) -> bool {
        matches!(model, TrainedModel::Factor(m) if matches!(m.item_factors, ItemVectors::Int8 { .. }))
    }

    /// Uploads the scoring matrices of `model` (with `n_items` catalog items) to `device`.
    pub fn new(model: &TrainedModel, n_items: usize, device: &B::Device) -> Result<Self> {
        if !Self::supports(model, n_items) {
            return Err(Error::Device(format!(
                "an item–item model of {n_items} items is too large to upload densely (at most \
                 {DENSE_ITEM_ITEM_MAX} items): score it with the CPU kernels"
            )));
        }
        let vector = |v: Vec<f32>| Tensor::<B, 1>::from_data(TensorData::new(v, [n_items]), device);
        let weights = match model {
            TrainedModel::Blend(_) => {
                return Err(Error::Device(
                    "a blend is scored with the CPU kernels (each model, standardised per user)"
                        .into(),
                ))
            }
            TrainedModel::Popularity(m) => {
                check_len(m.counts.len(), n_items, "popularity counts")?;
                Weights::Popularity(vector(m.counts.clone()))
            }
            TrainedModel::ItemKnn(m) => {
                let k = m.config.k;
                check_len(m.neighbors.len(), n_items * k, "neighbour lists")?;
                let mut dense = vec![0.0f32; n_items * n_items];
                for (j, (row, sims)) in m
                    .neighbors
                    .chunks_exact(k)
                    .zip(m.similarities.chunks_exact(k))
                    .enumerate()
                {
                    for (&i, &s) in row.iter().zip(sims).take_while(|(&i, _)| i != u32::MAX) {
                        let slot = dense
                            .get_mut(j * n_items + i as usize)
                            .ok_or_else(|| Error::Bundle(format!("neighbour {i} out of range")))?;
                        *slot = s;
                    }
                }
                Weights::ItemItem {
                    weights: Tensor::from_data(TensorData::new(dense, [n_items, n_items]), device),
                    binary: m.config.binary,
                }
            }
            TrainedModel::Factor(m) => {
                if m.item_factors.rows(m.dim) != n_items || !m.item_factors.width_is(m.dim) {
                    return Err(Error::Bundle(format!(
                        "item factors: expected [{n_items}, {}]",
                        m.dim
                    )));
                }
                let bias = match &m.biases {
                    Some(b) => {
                        check_len(b.item.len(), n_items, "item biases")?;
                        Some(vector(b.item.iter().map(|bi| b.global + bi).collect()))
                    }
                    None => None,
                };
                // The device holds f32: int8 rows are decoded block by block for the upload.
                let blocks: Vec<Tensor<B, 2>> = (0..n_items)
                    .step_by(UPLOAD_ROWS)
                    .map(|start| {
                        let end = (start + UPLOAD_ROWS).min(n_items);
                        let mut rows = Vec::with_capacity((end - start) * m.dim);
                        for i in start..end {
                            let row = m.item_factors.row(i, m.dim).ok_or_else(|| {
                                Error::Bundle(format!("item factors: no row {i}"))
                            })?;
                            rows.extend_from_slice(&row);
                        }
                        Ok(Tensor::from_data(
                            TensorData::new(rows, [end - start, m.dim]),
                            device,
                        ))
                    })
                    .collect::<Result<_>>()?;
                let items = match blocks.len() {
                    0 => Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, m.dim]), device),
                    _ => Tensor::cat(blocks, 0),
                };
                Weights::Factor { items, bias }
            }
        };
        Ok(Self {
            n_items,
            weights,
            device: device.clone(),
        })
    }

    /// The score of every catalog item for a query, as a tensor on the device.
    pub fn scores(&self, q: &Query) -> Result<Tensor<B, 1>> {
        q.check()?;
        // The history as a dense row vector: its weight per catalog item.
        let history = |weight: &dyn Fn(f32, f32) -> f32| -> Result<Tensor<B, 2>> {
            let mut x = vec![0.0f32; self.n_items];
            for ((&i, &r), &w) in q.items.iter().zip(&q.ratings).zip(&q.weights) {
                *x.get_mut(i as usize).ok_or_else(|| {
                    Error::Data(format!("item index {i} is outside the catalog"))
                })? += weight(r, w);
            }
            Ok(Tensor::from_data(
                TensorData::new(x, [1, self.n_items]),
                &self.device,
            ))
        };
        let n = self.n_items;
        Ok(match &self.weights {
            Weights::Popularity(counts) => counts.clone(),
            Weights::ItemItem { weights, binary } => {
                let x = history(&|r, w| if *binary { w } else { w * r })?;
                x.matmul(weights.clone()).reshape([n])
            }
            Weights::Factor {
                items: q_items,
                bias,
            } => {
                let user = match &q.user {
                    // A visitor encoder's output (SASRec, Mult-DAE), made on the CPU (see
                    // `Session::query`).
                    Some(u) => {
                        let d = q_items.dims()[1];
                        if u.len() != d {
                            return Err(Error::Data(format!(
                                "a user vector of {} values for a model of width {d}",
                                u.len()
                            )));
                        }
                        Tensor::from_data(TensorData::new(u.clone(), [1, d]), &self.device)
                    }
                    // Fold-in: the (weighted) mean of the history's item vectors.
                    None => {
                        let scale = 1.0 / q.events.max(1) as f32;
                        history(&|_, w| scale * w)?.matmul(q_items.clone())
                    }
                };
                let scores = user.matmul(q_items.clone().transpose()).reshape([n]);
                match bias {
                    Some(b) => scores + b.clone(),
                    None => scores,
                }
            }
        })
    }
}

fn check_len(found: usize, expected: usize, what: &str) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::Bundle(format!(
            "{what}: {found} values, expected {expected}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FactorModel, ItemKnn, ItemKnnConfig, Popularity};
    use burn::backend::Flex;

    fn device_scores(model: &TrainedModel, n: usize, items: &[u32], ratings: &[f32]) -> Vec<f32> {
        let scorer = DeviceScorer::<Flex>::new(model, n, &Default::default()).unwrap();
        let q = Query::plain(items, ratings);
        crate::device::read_floats(scorer.scores(&q).unwrap()).unwrap()
    }

    #[test]
    fn hand_checked_scores_for_each_model_kind() {
        let pop = TrainedModel::Popularity(Popularity {
            counts: vec![3.0, 1.0, 2.0],
        });
        assert_eq!(device_scores(&pop, 3, &[0], &[1.0]), [3.0, 1.0, 2.0]);

        // Item 0's neighbours: 1 (0.5), 2 (0.25); item 1's: 2 (1.0), then padding.
        let knn = TrainedModel::ItemKnn(ItemKnn {
            config: ItemKnnConfig {
                k: 2,
                binary: false,
                ..ItemKnnConfig::default()
            },
            neighbors: vec![1, 2, 2, u32::MAX, 0, 1],
            similarities: vec![0.5, 0.25, 1.0, 0.0, 0.0, 0.0],
        });
        assert_eq!(
            device_scores(&knn, 3, &[0, 1], &[2.0, 3.0]),
            [0.0, 1.0, 2.0 * 0.25 + 3.0]
        );

        // The same model, binary, with rank weights (γ = 1): ratings 2 and 3 rank 1 and 2 of 2,
        // so the events weigh 0.75 and 1.25; the device reads them from the query's weights, as
        // the CPU kernel does.
        let TrainedModel::ItemKnn(mut ranked) = knn.clone() else {
            unreachable!()
        };
        ranked.config.binary = true;
        ranked.config.rank_weight = 1.0;
        let ranked = TrainedModel::ItemKnn(ranked);
        let q = Query {
            weights: ranked.event_weights(&[2.0, 3.0]),
            ..Query::plain(&[0, 1], &[2.0, 3.0])
        };
        let mut cpu = vec![0.0; 3];
        crate::rank::score_history(&ranked, &q, &mut cpu).unwrap();
        assert_eq!(cpu, [0.0, 0.375, 0.25 * 0.75 + 1.25]);
        let scorer = DeviceScorer::<Flex>::new(&ranked, 3, &Default::default()).unwrap();
        let gpu = crate::device::read_floats(scorer.scores(&q).unwrap()).unwrap();
        assert_eq!(gpu, cpu);

        // Fold-in of items 0 and 1: (0.5, 1.0); dotted with each item vector.
        let mf = TrainedModel::Factor(FactorModel {
            dim: 2,
            user_factors: vec![0.0; 2],
            item_factors: vec![1.0, 0.0, 0.0, 2.0, 4.0, 4.0].into(),
            biases: None,
            encoder: None,
            heads: Default::default(),
        });
        assert_eq!(device_scores(&mf, 3, &[0, 1], &[5.0, 1.0]), [0.5, 2.0, 6.0]);
        assert_eq!(device_scores(&mf, 3, &[], &[]), [0.0, 0.0, 0.0]);

        let scorer = DeviceScorer::<Flex>::new(&mf, 3, &Default::default()).unwrap();
        assert!(scorer.scores(&Query::plain(&[3], &[1.0])).is_err());
        assert!(DeviceScorer::<Flex>::new(&mf, 4, &Default::default()).is_err());
    }
}
