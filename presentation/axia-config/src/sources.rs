//! The market-data sources: the one list of them outside their own crates.
//!
//! Each source is an adapter crate with its own settings type (the `[name]` section of the
//! settings file, parsed and checked by the crate's serde type) and one function from those
//! settings to the port it implements. [`SOURCES`] registers each: its name (`source = "…"`
//! and the section), the Cargo feature that compiles it, the environment variables it reads,
//! and, when compiled in, how it is built and which roles it fills. Adding a source is a crate,
//! one line in the workspace, one feature here, one entry in [`SOURCES`] (see "Adding a source"
//! in docs/ARCHITECTURE.md).

// Without `Wiring` (the `simulated` and `parquet` features) sources are parsed and checked,
// never built.
#![cfg_attr(not(all(feature = "simulated", feature = "parquet")), allow(dead_code))]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axia_domain::{AdapterContext, MarketData, PriceStream};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ConfigError;

/// A registered market-data source.
pub(crate) struct Registered {
    /// Its name: `source = "…"`, `AXIA_SOURCE`, `--source`, and its settings section `[…]`.
    pub name: &'static str,
    /// The Cargo feature of this crate (and of the facade) that compiles it in.
    pub feature: &'static str,
    /// Environment variables read into its section: (variable, key).
    pub env: &'static [(&'static str, &'static str)],
    /// Its adapter, when the feature is compiled in.
    pub adapter: Option<Adapter>,
}

/// How a compiled-in source is checked and built.
pub(crate) struct Adapter {
    /// Parses the section with its type (errors keep the file position).
    pub parse: fn(toml::Spanned<toml::de::DeValue<'_>>) -> Result<(), toml::de::Error>,
    /// Checks the parsed section, `chosen` when it is `source`.
    pub validate: fn(&SourceSections, bool) -> Result<(), ConfigError>,
    /// Builds it, `chosen` when it is `source`; `None` when it has no role unless chosen.
    pub build: fn(&SourceSections, &AdapterContext, bool) -> Result<Option<Built>, ConfigError>,
}

/// Every market-data source axia knows, compiled in or not.
pub(crate) const SOURCES: &[Registered] = &[
    Registered {
        name: "simulated",
        feature: "simulated",
        env: &[],
        adapter: simulated::ADAPTER,
    },
    Registered {
        name: "yahoo",
        feature: "yahoo",
        env: &[],
        adapter: yahoo::ADAPTER,
    },
    Registered {
        name: "oanda",
        feature: "oanda",
        env: &[("OANDA_TOKEN", "token"), ("OANDA_ACCOUNT_ID", "account_id")],
        adapter: oanda::ADAPTER,
    },
];

/// The registered source called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Registered> {
    SOURCES.iter().find(|s| s.name == name)
}

/// The names of the registered sources, in the order of [`SOURCES`].
#[must_use]
pub fn names() -> Vec<&'static str> {
    SOURCES.iter().map(|s| s.name).collect()
}

fn expected() -> String {
    let names = names();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// What a built source gives the composition root.
pub(crate) struct Built {
    /// Its bars.
    pub market: Arc<dyn MarketData>,
    /// The roles it fills in the data provider.
    pub roles: Roles,
    /// Its live price stream, or why there is none.
    pub stream: Result<Arc<dyn PriceStream>, ConfigError>,
}

/// The data provider's roles a source fills.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Roles {
    /// The collector's source (the one `source` names).
    pub source: bool,
    /// The broker: recent bars of the trading and chart use cases.
    pub broker: bool,
    /// The fallback: history the stores lack.
    pub fallback: bool,
    /// The fallback of a server or a chart when no source fills that role (offline).
    pub serving_fallback: bool,
}

/// The name of a registered source (`simulated`, `yahoo`, `oanda`): parsed, so an unknown one
/// is refused where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceName(&'static str);

impl SourceName {
    /// The simulated broker (offline): the default.
    pub const SIMULATED: Self = Self("simulated");

    /// The name.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        self.0
    }
}

impl Default for SourceName {
    fn default() -> Self {
        Self::SIMULATED
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for SourceName {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        find(&lower).map(|r| Self(r.name)).ok_or_else(|| {
            ConfigError(format!(
                "unknown source {:?}: expected {}",
                s.trim(),
                expected()
            ))
        })
    }
}

impl<'de> Deserialize<'de> for SourceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The sources' settings sections as the file, the environment and the flags give them, each
/// parsed by its adapter's own type ([`get`](Self::get)). `Debug` names the sections only:
/// they may hold tokens.
#[derive(Clone, Default, PartialEq)]
pub struct SourceSections(BTreeMap<&'static str, toml::Table>);

impl fmt::Debug for SourceSections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SourceSections {
    /// The `[name]` section as its adapter's settings type, defaults where it is absent.
    ///
    /// # Errors
    /// [`ConfigError`] naming the section when it does not parse as `T`.
    pub fn get<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        self.0.get(name).map_or_else(
            || Ok(T::default()),
            |t| T::deserialize(t.clone()).map_err(|e| ConfigError(format!("[{name}]: {e}"))),
        )
    }

    /// Whether the `[name]` section sets `key`.
    #[must_use]
    pub fn has(&self, name: &str, key: &str) -> bool {
        self.0.get(name).is_some_and(|t| t.contains_key(key))
    }

    /// Sets `key` of the `[name]` section (an override from the environment or a flag).
    ///
    /// # Errors
    /// [`ConfigError`] for a source that is not registered.
    pub fn set(
        &mut self,
        name: &str,
        key: &str,
        value: impl Into<toml::Value>,
    ) -> Result<(), ConfigError> {
        let r = find(name).ok_or_else(|| ConfigError(format!("no source called {name:?}")))?;
        self.0
            .entry(r.name)
            .or_default()
            .insert(key.to_owned(), value.into());
        Ok(())
    }

    /// Takes the sections of registered sources out of a settings file: every top-level key
    /// in `ignored` (what [`Settings`](crate::Settings) itself does not know) must be one.
    /// An error is a message and where in `text` it is.
    pub(crate) fn from_file(
        text: &str,
        ignored: &[String],
    ) -> Result<Self, (String, Option<std::ops::Range<usize>>)> {
        let located = |e: toml::de::Error| (e.message().to_owned(), e.span());
        let mut sections = Self::default();
        if ignored.is_empty() {
            return Ok(sections);
        }
        let root = toml::de::DeTable::parse(text)
            .map_err(located)?
            .into_inner();
        for (key, value) in root {
            let name: &str = key.get_ref();
            if !ignored.iter().any(|i| i == name) {
                continue;
            }
            let Some(r) = find(name) else {
                return Err((
                    format!("unknown field `{name}` (nor a source: {})", expected()),
                    Some(key.span()),
                ));
            };
            if let Some(a) = &r.adapter {
                (a.parse)(value.clone()).map_err(located)?;
            }
            let table =
                toml::Table::deserialize(serde::de::IntoDeserializer::into_deserializer(value))
                    .map_err(located)?;
            sections.0.insert(r.name, table);
        }
        Ok(sections)
    }

    /// Applies the environment variables of every registered source.
    pub(crate) fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        for r in SOURCES {
            for (var, key) in r.env {
                if let Some(v) = lookup(var) {
                    self.0
                        .entry(r.name)
                        .or_default()
                        .insert((*key).to_owned(), toml::Value::String(v));
                }
            }
        }
    }
}

/// Checks every compiled-in source's section, and that `chosen` is compiled in.
pub(crate) fn validate(sections: &SourceSections, chosen: &SourceName) -> Result<(), ConfigError> {
    for r in SOURCES {
        let is_chosen = r.name == chosen.as_str();
        match &r.adapter {
            Some(a) => (a.validate)(sections, is_chosen)?,
            None if is_chosen => {
                return Err(ConfigError(format!(
                    "source = \"{0}\" needs the {1} feature",
                    r.name, r.feature
                )));
            }
            None => {}
        }
    }
    Ok(())
}

/// Builds every compiled-in source that fills a role: the chosen one, and others that fill one
/// unless chosen (Yahoo as the fallback when it has a base URL). The sections are
/// [`validate`]d already (by `Settings::validate`); a chosen source that is not compiled in
/// builds nothing (and `Wiring` says no source is configured).
pub(crate) fn build(
    sections: &SourceSections,
    chosen: &SourceName,
    ctx: &AdapterContext,
) -> Result<Vec<Built>, ConfigError> {
    let mut built = Vec::new();
    for r in SOURCES {
        if let Some(a) = &r.adapter
            && let Some(mut b) = (a.build)(sections, ctx, r.name == chosen.as_str())?
        {
            b.roles.source = r.name == chosen.as_str();
            built.push(b);
        }
    }
    Ok(built)
}

/// Parses a section as `T` (with its position in the file).
fn parse<T: DeserializeOwned>(
    value: toml::Spanned<toml::de::DeValue<'_>>,
) -> Result<(), toml::de::Error> {
    T::deserialize(serde::de::IntoDeserializer::into_deserializer(value)).map(|_| ())
}

#[cfg(feature = "simulated")]
mod simulated {
    use std::sync::Arc;

    use axia_simbroker::SimulatedSettings;

    use super::{Adapter, Built, Roles};

    pub(super) const ADAPTER: Option<Adapter> = Some(Adapter {
        parse: super::parse::<SimulatedSettings>,
        validate: |sections, _| sections.get::<SimulatedSettings>("simulated").map(|_| ()),
        build: |sections, ctx, chosen| {
            if !chosen {
                return Ok(None);
            }
            let s: SimulatedSettings = sections.get("simulated")?;
            Ok(Some(Built {
                market: Arc::new(s.broker(ctx)),
                roles: Roles {
                    broker: true,
                    serving_fallback: true,
                    ..Roles::default()
                },
                stream: Ok(Arc::new(s.stream(ctx))),
            }))
        },
    });
}

#[cfg(not(feature = "simulated"))]
mod simulated {
    pub(super) const ADAPTER: Option<super::Adapter> = None;
}

#[cfg(feature = "yahoo")]
mod yahoo {
    use std::sync::Arc;

    use axia_yahoo::YahooSettings;

    use super::{Adapter, Built, Roles};
    use crate::ConfigError;

    pub(super) const ADAPTER: Option<Adapter> = Some(Adapter {
        parse: super::parse::<YahooSettings>,
        validate: |sections, _| {
            sections
                .get::<YahooSettings>("yahoo")?
                .validate()
                .map_err(ConfigError)
        },
        // The source when chosen; the fallback whenever it is configured (a base URL).
        build: |sections, ctx, chosen| {
            let s: YahooSettings = sections.get("yahoo")?;
            if !chosen && s.base_url.is_none() {
                return Ok(None);
            }
            let gateway = s
                .gateway(ctx)
                .map_err(|e| ConfigError(format!("yahoo: {e}")))?;
            Ok(Some(Built {
                market: Arc::new(gateway),
                roles: Roles {
                    fallback: true,
                    ..Roles::default()
                },
                stream: Err(ConfigError(
                    "source = \"yahoo\" has no live price stream; the live feed needs source = \"simulated\" or \"oanda\"".into(),
                )),
            }))
        },
    });
}

#[cfg(not(feature = "yahoo"))]
mod yahoo {
    pub(super) const ADAPTER: Option<super::Adapter> = None;
}

#[cfg(feature = "oanda")]
mod oanda {
    use std::sync::Arc;

    use axia_domain::PriceStream;
    use axia_oanda::{OandaGateway, OandaSettings, OandaStream};

    use super::{Adapter, Built, Roles};
    use crate::ConfigError;

    const NO_TOKEN: &str = "source = \"oanda\" needs a token: set OANDA_TOKEN (or [oanda] token)";

    pub(super) const ADAPTER: Option<Adapter> = Some(Adapter {
        parse: super::parse::<OandaSettings>,
        validate: |sections, chosen| {
            let s: OandaSettings = sections.get("oanda")?;
            s.validate().map_err(ConfigError)?;
            if chosen && s.token.is_none() {
                return Err(ConfigError(NO_TOKEN.into()));
            }
            Ok(())
        },
        build: |sections, ctx, chosen| {
            if !chosen {
                return Ok(None);
            }
            let s: OandaSettings = sections.get("oanda")?;
            let cfg = s.config(ctx).ok_or_else(|| ConfigError(NO_TOKEN.into()))?;
            let gateway = OandaGateway::new(cfg.clone(), ctx.clock())
                .map_err(|e| ConfigError(format!("oanda: {e}")))?;
            Ok(Some(Built {
                market: Arc::new(gateway),
                roles: Roles {
                    broker: true,
                    ..Roles::default()
                },
                stream: OandaStream::new(cfg)
                    .map(|s| Arc::new(s) as Arc<dyn PriceStream>)
                    .map_err(|e| ConfigError(format!("oanda: {e}"))),
            }))
        },
    });
}

#[cfg(not(feature = "oanda"))]
mod oanda {
    pub(super) const ADAPTER: Option<super::Adapter> = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;
    use crate::settings::tests::parse;

    #[test]
    fn every_registered_name_parses_and_nothing_else() {
        assert_eq!(names(), ["simulated", "yahoo", "oanda"]);
        for name in names() {
            let parsed: SourceName = name.to_ascii_uppercase().parse().unwrap();
            assert_eq!(parsed.as_str(), name);
            assert!(find(name).is_some());
        }
        let e = "bloomberg".parse::<SourceName>().unwrap_err().0;
        assert!(e.contains("simulated, yahoo or oanda"), "{e}");
        let e = parse("source = \"bloomberg\"\n").unwrap_err().0;
        assert!(e.contains("bloomberg") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_section_is_parsed_by_its_adapter_with_the_line() {
        let e = parse("symbols = [\"USDJPY\"]\n[yahoo]\nbase_urll = \"http://x\"\n")
            .unwrap_err()
            .0;
        // An unknown key is placed at its section's header.
        assert!(e.contains("base_urll") && e.contains("line 2"), "{e}");
        let e = parse("[simulated]\nseed = \"seven\"\n").unwrap_err().0;
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[bloomberg]\nkey = 1\n").unwrap_err().0;
        assert!(
            e.contains("unknown field `bloomberg`") && e.contains("line 1"),
            "{e}"
        );
        let e = parse("[yahoo]\nrequests_per_second = 0.0\n").unwrap_err().0;
        assert!(e.contains("yahoo.requests_per_second"), "{e}");
        let s =
            parse("[simulated]\nseed = 7\n[yahoo]\ntickers = { \"BRK.B\" = \"BRK-B\" }\n").unwrap();
        assert!(s.sources.has("simulated", "seed"));
        assert!(s.sources.has("yahoo", "tickers"));
    }

    #[test]
    fn the_environment_and_flags_reach_the_sections_and_secrets_stay_hidden() {
        let mut sections = SourceSections::default();
        sections.apply_env(|v| match v {
            "OANDA_TOKEN" => Some("sekrit-42".into()),
            "OANDA_ACCOUNT_ID" => Some("101-1".into()),
            _ => None,
        });
        assert!(sections.has("oanda", "token") && sections.has("oanda", "account_id"));
        assert!(!format!("{sections:?}").contains("sekrit"), "{sections:?}");
        assert!(sections.set("bloomberg", "key", 1).is_err());
        let s = Settings::default().with_overrides(&crate::Overrides {
            seed: Some(9),
            yahoo_url: Some("http://127.0.0.1:1".into()),
            ..crate::Overrides::default()
        });
        assert!(s.sources.has("simulated", "seed") && s.sources.has("yahoo", "base_url"));
    }

    #[cfg(all(feature = "simulated", feature = "yahoo", feature = "oanda"))]
    #[test]
    fn each_source_fills_its_roles() {
        let ctx = AdapterContext::default();
        let mut sections = SourceSections::default();
        let roles = |sections: &SourceSections, chosen: &str| {
            build(sections, &chosen.parse().unwrap(), &ctx)
                .unwrap()
                .into_iter()
                .map(|b| {
                    let r = b.roles;
                    (
                        r.source,
                        r.broker,
                        r.fallback,
                        r.serving_fallback,
                        b.stream.is_ok(),
                    )
                })
                .collect::<Vec<_>>()
        };
        // The simulated broker: source, broker, offline fallback, a stream.
        assert_eq!(
            roles(&sections, "simulated"),
            [(true, true, false, true, true)]
        );
        // Yahoo: the source and the fallback, no stream.
        assert_eq!(
            roles(&sections, "yahoo"),
            [(true, false, true, false, false)]
        );
        // Yahoo with a base URL is the fallback of another source too.
        sections
            .set("yahoo", "base_url", "http://127.0.0.1:1")
            .unwrap();
        assert_eq!(
            roles(&sections, "simulated"),
            [
                (true, true, false, true, true),
                (false, false, true, false, false)
            ]
        );
        // OANDA needs a token; its stream an account.
        assert!(build(&sections, &"oanda".parse().unwrap(), &ctx).is_err());
        sections.set("oanda", "token", "t-1").unwrap();
        assert_eq!(
            roles(&sections, "oanda"),
            [
                (false, false, true, false, false),
                (true, true, false, false, false)
            ]
        );
        sections.set("oanda", "account_id", "101-1").unwrap();
        assert_eq!(
            roles(&sections, "oanda")[1],
            (true, true, false, false, true)
        );
    }
}
