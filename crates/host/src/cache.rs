//! Compiling the component once: the machine code is cached next to the data, keyed by the
//! component's bytes and the engine's configuration, so later starts skip Cranelift.

use std::hash::{Hash, Hasher};
use std::path::Path;

use anyhow::{Context as _, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Loads the component at `path`, compiled by `engine` (from `cache_dir` when it was before).
pub fn load_component(engine: &Engine, path: &Path, cache_dir: Option<&Path>) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
    let Some(cache_dir) = cache_dir else {
        return Ok(Component::new(engine, &bytes)?);
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let cached = cache_dir.join(format!("component-{:016x}.cwasm", hasher.finish()));
    if cached.exists() {
        // SAFETY: the file was written by `Engine::precompile_component` of this same engine
        // configuration (its name carries the hash) into the host's own 0700 data directory.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(component),
            Err(e) => eprintln!("portcullis: ignoring the compilation cache ({e:#})"),
        }
    }
    let compiled = engine.precompile_component(&bytes).map_err(anyhow::Error::from)?;
    std::fs::create_dir_all(cache_dir)?;
    let temp = cached.with_extension("tmp");
    std::fs::write(&temp, &compiled).and_then(|()| std::fs::rename(&temp, &cached)).ok();
    // SAFETY: `compiled` was just produced by this engine.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}
