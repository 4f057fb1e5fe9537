//! Device choice. Natively: `flex` (pure-Rust CPU, always built, the default), `wgpu` (Vulkan /
//! Metal / DX12 through wgpu, with `--features wgpu`) and `cuda` (with `--features cuda`; the CUDA
//! libraries are loaded at run time, so building needs no GPU). Code that trains is generic over
//! the backend and runs through [`run_on`].

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceKind {
    #[default]
    Flex,
    Wgpu,
    Cuda,
}

impl std::str::FromStr for DeviceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "flex" | "cpu" => Ok(DeviceKind::Flex),
            "wgpu" | "vulkan" => Ok(DeviceKind::Wgpu),
            "cuda" => Ok(DeviceKind::Cuda),
            other => Err(Error::Config(format!(
                "unknown device '{other}' (flex, wgpu or cuda)"
            ))),
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Flex => "flex",
            DeviceKind::Wgpu => "wgpu",
            DeviceKind::Cuda => "cuda",
        })
    }
}

/// Work that runs on whichever autodiff backend the user picked.
pub trait BackendTask {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Runs `task` on the backend for `kind`, or explains which cargo feature it needs.
pub fn run_on<T: BackendTask>(kind: DeviceKind, task: T) -> Result<T::Output> {
    use burn::backend::Autodiff;
    match kind {
        DeviceKind::Flex => task.run::<Autodiff<burn::backend::Flex>>(Default::default()),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => task.run::<Autodiff<burn::backend::Wgpu>>(Default::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => task.run::<Autodiff<burn::backend::Cuda>>(Default::default()),
        #[allow(unreachable_patterns)]
        other => Err(Error::Device(format!(
            "this build has no {other} backend: rebuild with `--features {other}`"
        ))),
    }
}

/// Reads a float tensor back to the CPU (natively; the browser must use `into_data_async`).
pub fn read_floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.try_into_data()
        .map_err(|e| Error::Device(format!("reading a tensor failed: {e:?}")))?
        .to_vec()
        .map_err(|e| Error::Device(format!("unexpected tensor type: {e:?}")))
}

/// A 2-D float tensor from row-major values.
pub fn float_tensor<B: Backend>(
    v: Vec<f32>,
    shape: [usize; 2],
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
pub fn l2_normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// A 1-D integer tensor of indices.
pub fn int_tensor<B: Backend>(v: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let data: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
    Tensor::from_data(TensorData::new(data, [v.len()]), device)
}
