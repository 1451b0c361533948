//! The registry of connectors and formats.
//!
//! The runner, the docs generator and the Python generator enumerate a [`Registry`]. A user's own
//! connector registers without editing Headrace: either explicitly with
//! [`Registry::register_connector`], or globally with [`register_connector!`](crate::register_connector)
//! in their crate, which [`Registry::from_inventory`] collects.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{did_you_mean, Error, Result};
use crate::factory::ConnectorFactory;
use crate::format::FormatFactory;

/// A connector registered with [`register_connector!`](crate::register_connector).
pub struct ConnectorRegistration(pub fn() -> Arc<dyn ConnectorFactory>);
/// A format registered with [`register_format!`](crate::register_format).
pub struct FormatRegistration(pub fn() -> Arc<dyn FormatFactory>);

inventory::collect!(ConnectorRegistration);
inventory::collect!(FormatRegistration);

/// Register a connector factory globally: `register_connector!(MyFactory);`
#[macro_export]
macro_rules! register_connector {
    ($factory:expr) => {
        $crate::inventory::submit! {
            $crate::registry::ConnectorRegistration(|| ::std::sync::Arc::new($factory))
        }
    };
}

/// Register a format factory globally: `register_format!(MyFormat);`
#[macro_export]
macro_rules! register_format {
    ($factory:expr) => {
        $crate::inventory::submit! {
            $crate::registry::FormatRegistration(|| ::std::sync::Arc::new($factory))
        }
    };
}

/// Connectors and formats by identifier.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn ConnectorFactory>>,
    formats: BTreeMap<String, Arc<dyn FormatFactory>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connectors", &self.connectors.keys().collect::<Vec<_>>())
            .field("formats", &self.formats.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every connector and format registered with the global macros in linked crates.
    pub fn from_inventory() -> Self {
        let mut r = Registry::new();
        for c in inventory::iter::<ConnectorRegistration> {
            r.register_connector((c.0)());
        }
        for f in inventory::iter::<FormatRegistration> {
            r.register_format((f.0)());
        }
        r
    }

    /// Add (or replace) a connector.
    pub fn register_connector(&mut self, f: Arc<dyn ConnectorFactory>) -> &mut Self {
        self.connectors.insert(f.identifier().to_string(), f);
        self
    }

    /// Add (or replace) a format.
    pub fn register_format(&mut self, f: Arc<dyn FormatFactory>) -> &mut Self {
        self.formats.insert(f.identifier().to_string(), f);
        self
    }

    /// Builder-style [`Registry::register_connector`].
    pub fn with_connector(mut self, f: impl ConnectorFactory + 'static) -> Self {
        self.register_connector(Arc::new(f));
        self
    }

    /// Builder-style [`Registry::register_format`].
    pub fn with_format(mut self, f: impl FormatFactory + 'static) -> Self {
        self.register_format(Arc::new(f));
        self
    }

    /// The connector with this identifier, or an error suggesting the nearest one.
    pub fn connector(&self, id: &str) -> Result<Arc<dyn ConnectorFactory>> {
        self.connectors
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownFactory {
                kind: "connector",
                identifier: id.to_string(),
                suggestion: did_you_mean(id, self.connectors.keys().map(String::as_str)),
                available: self
                    .connectors
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The format with this identifier, or an error suggesting the nearest one.
    pub fn format(&self, id: &str) -> Result<Arc<dyn FormatFactory>> {
        self.formats
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownFactory {
                kind: "format",
                identifier: id.to_string(),
                suggestion: did_you_mean(id, self.formats.keys().map(String::as_str)),
                available: if self.formats.is_empty() {
                    "none".to_string()
                } else {
                    self.formats.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })
    }

    /// All connectors, by identifier.
    pub fn connectors(&self) -> impl Iterator<Item = &Arc<dyn ConnectorFactory>> {
        self.connectors.values()
    }

    /// All formats, by identifier.
    pub fn formats(&self) -> impl Iterator<Item = &Arc<dyn FormatFactory>> {
        self.formats.values()
    }
}
