//! A controllable generator: the embedded one, counted, optionally slowed down per stage and failing its first
//! calls. Faults are injected here, through the `ModelGenerator` trait, never in production code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mesh402_core::{
    Deliverables, GenerateError, MeshParams, Model, ModelGenerator, PictureRequest, Preflight, Progress,
};
use mesh402_mesh::EmbeddedGenerator;

/// See the module docs. Build it with struct syntax: `FakeGenerator { stage_delay, ..FakeGenerator::default() }`.
#[derive(Debug, Default)]
pub struct FakeGenerator {
    /// How many times `generate` was called.
    pub calls: AtomicUsize,
    /// How many times `preflight` was called (each decodes the picture).
    pub preflights: AtomicUsize,
    /// How many of the next calls fail with a server fault (`mesh_check_failed`).
    pub failures_left: AtomicUsize,
    /// A pause after each stage, to keep jobs running while a test looks at them.
    pub stage_delay: Duration,
}

impl FakeGenerator {
    /// A generator whose first `n` calls fail.
    pub fn failing(n: usize) -> FakeGenerator {
        FakeGenerator { failures_left: AtomicUsize::new(n), ..FakeGenerator::default() }
    }

    /// A generator that pauses `delay` after each stage.
    pub fn slow(delay: Duration) -> FakeGenerator {
        FakeGenerator { stage_delay: delay, ..FakeGenerator::default() }
    }

    /// How many times `generate` was called.
    pub fn n_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ModelGenerator for FakeGenerator {
    fn preflight(&self, request: PictureRequest<'_>) -> Result<Preflight, GenerateError> {
        self.preflights.fetch_add(1, Ordering::SeqCst);
        EmbeddedGenerator.preflight(request)
    }

    fn generate(
        &self,
        request: PictureRequest<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok() {
            return Err(GenerateError::MeshCheckFailed { reason: "a fault injected by the test".into() });
        }
        let delay = self.stage_delay;
        EmbeddedGenerator.generate(request, &mut |step| {
            std::thread::sleep(delay);
            progress(step);
        })
    }

    fn deliverables(&self, params: &MeshParams) -> Deliverables {
        EmbeddedGenerator.deliverables(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expected, model_generator_story};

    #[test]
    fn the_embedded_generator_and_the_fake_pass_the_generator_story() {
        let every = Expected { formats: &mesh402_core::Format::ALL, prompts: false };
        model_generator_story(&EmbeddedGenerator, every);
        model_generator_story(&FakeGenerator::default(), every);
    }
}
