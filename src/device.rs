//! Which hardware computes: `device` (`cpu|vulkan[:N]|wgpu|cuda[:N]`), turned into a Burn
//! device here and nowhere else. Never `Device::default()`, which silently prefers CUDA once
//! that backend is compiled in.
//!
//! The GPU backends are cargo features (`vulkan`, `wgpu`, `cuda`), off by default; a device
//! whose backend is not in this build, or that this machine lacks, is refused with what exists.

use std::fmt;
use std::str::FromStr;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The CPU: Burn flex, with our fused kernels.
    #[default]
    Cpu,
    /// The N-th Vulkan GPU (cargo feature `vulkan`).
    Vulkan(usize),
    /// The GPU wgpu prefers, on the graphics API it settles on (cargo feature `wgpu`).
    Wgpu,
    /// The N-th CUDA GPU (cargo feature `cuda`).
    Cuda(usize),
}

/// The CPU (Burn flex) with autodiff: what `device` cpu opens.
pub fn cpu() -> Device {
    Device::flex().autodiff()
}

/// The device `model`'s parameters live on, where its inference runs (the CPU for a model
/// without parameters).
pub fn of<M: Module>(model: &M) -> Device {
    model.devices().into_iter().next().unwrap_or_else(|| cpu().without_autodiff())
}

/// Whether a panic's message says that a device ran out of memory: Burn's GPU runtimes panic
/// there ("out of device memory allocating N bytes", "An out-of-memory error happened ...")
/// instead of returning an error.
pub fn out_of_memory(panic: &(dyn std::any::Any + Send)) -> bool {
    let message = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or_default();
    let message = message.to_lowercase();
    ["out of memory", "out-of-memory", "out of device memory", "outofmemory"].iter().any(|words| message.contains(words))
}

/// Leaves the panics that [`out_of_memory`] recognises unprinted (the error they become says
/// what to do); every other panic prints as before.
pub fn quiet_out_of_memory_panics() {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !out_of_memory(info.payload()) {
            print(info);
        }
    }));
}

/// What `device` accepts, for messages.
const SPELLINGS: &str = "cpu, vulkan[:N], wgpu or cuda[:N]";

impl DeviceChoice {
    /// The Burn device to train on (autodiff enabled; `Device::inner` gives the plain one for
    /// inference). Refuses a backend this build lacks, naming the cargo feature, and a device
    /// this machine lacks, naming those it has.
    pub fn open(self) -> Result<Device> {
        let device = match self {
            DeviceChoice::Cpu => return Ok(cpu()),
            DeviceChoice::Vulkan(index) => backend::vulkan(index)?,
            DeviceChoice::Wgpu => backend::wgpu()?,
            DeviceChoice::Cuda(index) => backend::cuda(index)?,
        };
        Ok(device.autodiff())
    }

    /// The cargo feature that compiles this device's backend in (none for the CPU).
    fn feature(self) -> Option<&'static str> {
        match self {
            DeviceChoice::Cpu => None,
            DeviceChoice::Vulkan(_) => Some("vulkan"),
            DeviceChoice::Wgpu => Some("wgpu"),
            DeviceChoice::Cuda(_) => Some("cuda"),
        }
    }
}

/// The devices this build can open, as `device` spells them.
fn compiled() -> Vec<&'static str> {
    let gpus = [("vulkan", cfg!(feature = "vulkan")), ("wgpu", cfg!(feature = "wgpu")), ("cuda", cfg!(feature = "cuda"))];
    std::iter::once("cpu").chain(gpus.into_iter().filter(|(_, built)| *built).map(|(name, _)| name)).collect()
}

/// "`device` vulkan needs a build with the `vulkan` feature ...".
#[cfg_attr(all(feature = "vulkan", feature = "wgpu", feature = "cuda"), allow(dead_code))]
fn not_compiled(choice: DeviceChoice) -> Error {
    let feature = choice.feature().unwrap_or_default();
    let network = if feature == "cuda" { " (the cuda build downloads Burn's LLVM bundle, so it needs network access)" } else { "" };
    Error::Config(format!(
        "`device` {choice}: this build has no {feature} backend (it has: {}); build with `cargo build --release --features {feature}`{network}, or pass `device` cpu",
        compiled().join(", ")
    ))
}

/// What one backend finds on this machine.
#[cfg_attr(not(any(feature = "vulkan", feature = "wgpu", feature = "cuda")), allow(dead_code))]
struct Found {
    /// Its GPUs, in its order, with their names.
    gpus: Vec<(Device, String)>,
    /// The names of its devices with no card behind them (a software rasterizer such as Mesa's
    /// lavapipe), which are left out: Burn's kernels crash on lavapipe.
    software: Vec<String>,
}

#[cfg_attr(not(any(feature = "vulkan", feature = "wgpu", feature = "cuda")), allow(dead_code))]
impl Found {
    /// The `index`-th GPU, or an error that says what there is (`hint`: what a backend that
    /// finds nothing needs).
    fn nth(self, index: usize, choice: DeviceChoice, hint: &str) -> Result<Device> {
        let backend = choice.feature().unwrap_or_default();
        let listed = self.gpus.iter().enumerate().map(|(i, (_, name))| format!("{backend}:{i} ({name})")).collect::<Vec<_>>();
        self.gpus.into_iter().nth(index).map(|(device, _)| device).ok_or_else(|| {
            let has = match (listed.is_empty(), self.software.is_empty()) {
                (false, _) => format!("this machine has {}", listed.join(", ")),
                (true, false) => format!(
                    "this machine has no {backend} GPU, only software rendering ({}), which pretext leaves out since Burn's kernels crash on it",
                    self.software.join(", ")
                ),
                (true, true) => format!("this machine has no {backend} GPU{hint}"),
            };
            Error::Config(format!("`device` {choice}: {has}; pass one it has, or `device` cpu"))
        })
    }
}

/// The GPU backends, each compiled in by its cargo feature.
mod backend {
    use super::DeviceChoice;
    use crate::error::Result;
    use burn::tensor::Device;

    /// The devices of one backend, GPUs apart from software rasterizers.
    #[cfg(any(feature = "vulkan", feature = "wgpu", feature = "cuda"))]
    fn find(kind: burn::tensor::DeviceType) -> super::Found {
        let mut found = super::Found { gpus: Vec::new(), software: Vec::new() };
        for device in Device::enumerate(kind) {
            match device.identity() {
                Some(identity) if identity.physical.is_some() => found.gpus.push((device, identity.name)),
                Some(identity) => found.software.push(identity.name),
                None => {}
            }
        }
        found
    }

    #[cfg(feature = "vulkan")]
    pub fn vulkan(index: usize) -> Result<Device> {
        let hint = " (it needs the Vulkan loader, Debian's libvulkan1, and the GPU's Vulkan driver; \
                    point VK_DRIVER_FILES at the driver's nvidia_icd.json if the loader misses it)";
        find(burn::tensor::DeviceType::Vulkan).nth(index, DeviceChoice::Vulkan(index), hint)
    }

    #[cfg(not(feature = "vulkan"))]
    pub fn vulkan(index: usize) -> Result<Device> {
        Err(super::not_compiled(DeviceChoice::Vulkan(index)))
    }

    /// The GPU wgpu prefers, once it finds one.
    #[cfg(feature = "wgpu")]
    pub fn wgpu() -> Result<Device> {
        find(burn::tensor::DeviceType::Wgpu).nth(0, DeviceChoice::Wgpu, " that wgpu can reach (Vulkan, Metal or DirectX 12)")?;
        Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
    }

    #[cfg(not(feature = "wgpu"))]
    pub fn wgpu() -> Result<Device> {
        Err(super::not_compiled(DeviceChoice::Wgpu))
    }

    #[cfg(feature = "cuda")]
    pub fn cuda(index: usize) -> Result<Device> {
        find(burn::tensor::DeviceType::Cuda).nth(index, DeviceChoice::Cuda(index), " (it needs the NVIDIA driver's libcuda)")
    }

    #[cfg(not(feature = "cuda"))]
    pub fn cuda(index: usize) -> Result<Device> {
        Err(super::not_compiled(DeviceChoice::Cuda(index)))
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Vulkan(index) => write!(f, "vulkan:{index}"),
            DeviceChoice::Wgpu => f.write_str("wgpu"),
            DeviceChoice::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (name, index) = match s.split_once(':') {
            Some((name, index)) => (name, Some(index.parse::<usize>().map_err(|_| format!("device index must be a number, got '{index}' in '{s}'"))?)),
            None => (s, None),
        };
        match (name, index) {
            ("cpu", None) => Ok(DeviceChoice::Cpu),
            ("vulkan", index) => Ok(DeviceChoice::Vulkan(index.unwrap_or(0))),
            ("wgpu", None) => Ok(DeviceChoice::Wgpu),
            ("cuda", index) => Ok(DeviceChoice::Cuda(index.unwrap_or(0))),
            _ => Err(format!("unknown device '{s}'; expected {SPELLINGS}")),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_unknown_ones_list_the_known() {
        for (text, choice) in [("cpu", DeviceChoice::Cpu), ("vulkan:1", DeviceChoice::Vulkan(1)), ("wgpu", DeviceChoice::Wgpu), ("cuda:0", DeviceChoice::Cuda(0))] {
            assert_eq!(text.parse::<DeviceChoice>(), Ok(choice));
            assert_eq!(choice.to_string(), text);
        }
        assert_eq!("vulkan".parse::<DeviceChoice>(), Ok(DeviceChoice::Vulkan(0)));
        assert_eq!("gpu".parse::<DeviceChoice>(), Err("unknown device 'gpu'; expected cpu, vulkan[:N], wgpu or cuda[:N]".to_string()));
        assert_eq!("cuda:x".parse::<DeviceChoice>(), Err("device index must be a number, got 'x' in 'cuda:x'".to_string()));
        assert!("cpu:1".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn the_cpu_opens_as_burn_flex_with_autodiff() {
        let device = DeviceChoice::Cpu.open().unwrap();
        assert_eq!(device, Device::flex());
        assert!(device.is_autodiff());
    }

    #[test]
    fn the_runtimes_out_of_memory_panics_are_recognised_and_others_are_not() {
        let panic = |message: &str| -> Box<dyn std::any::Any + Send> { Box::new(message.to_string()) };
        assert!(out_of_memory(&*panic("out of device memory allocating 8589934592 bytes")));
        assert!(out_of_memory(&*panic("An out-of-memory error happened during launch")));
        assert!(out_of_memory(&*panic("called `Result::unwrap()` on an `Err` value: OutOfMemory { size: 1024 }")));
        assert!(out_of_memory(&*Box::new("CUDA_ERROR_OUT_OF_MEMORY: out of memory") as &(dyn std::any::Any + Send)));
        assert!(!out_of_memory(&*panic("index out of bounds: the len is 3 but the index is 7")));
        assert!(!out_of_memory(&*Box::new(7_u32) as &(dyn std::any::Any + Send)));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_backend_not_built_in_names_its_cargo_feature() {
        let message = DeviceChoice::Cuda(0).open().unwrap_err().to_string();
        assert!(message.contains("`device` cuda:0: this build has no cuda backend (it has: cpu"), "{message}");
        assert!(message.contains("`cargo build --release --features cuda` (the cuda build downloads Burn's LLVM bundle, so it needs network access)"), "{message}");
    }
}
