//! Alerts next to the feature engine: [`AlertRules`] (rules checked against the engine's
//! configuration) and [`AlertEvaluator`] (the newest points of each series, the rules
//! evaluated on each of them).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use axia_domain::{
    Alert, AlertPoint, AlertRule, AlertRuleError, Bar, BarField, RuleId, Symbol, Timeframe,
};

use crate::FeatureConfig;

/// Alert rules by series, each checked against the feature engine's configuration: every
/// feature a rule names is computed for its series.
#[derive(Debug, Clone, Default)]
pub struct AlertRules {
    by_series: HashMap<(Symbol, Timeframe), Vec<AlertRule>>,
    /// The deepest lookback of each series' rules.
    depths: HashMap<(Symbol, Timeframe), usize>,
    len: usize,
}

impl AlertRules {
    /// Checks and indexes `rules`.
    ///
    /// # Errors
    /// The first rule refused, named ([`AlertRuleError::Rule`]): one that names a feature its
    /// series does not compute, or an id used twice.
    pub fn new(
        rules: impl IntoIterator<Item = AlertRule>,
        config: &FeatureConfig,
    ) -> Result<Self, AlertRuleError> {
        let mut by_series: HashMap<(Symbol, Timeframe), Vec<AlertRule>> = HashMap::new();
        let mut ids = HashSet::new();
        let mut len = 0;
        for rule in rules {
            let named = |e: AlertRuleError| e.of_rule(rule.id.as_str());
            if !ids.insert(rule.id.clone()) {
                return Err(named(AlertRuleError::Id(format!(
                    "{} is used by two rules",
                    rule.id
                ))));
            }
            let computed: Vec<String> = config
                .specs_for(&rule.symbol, rule.timeframe)
                .iter()
                .flat_map(axia_indicators::FeatureSpec::names)
                .collect();
            for name in rule.condition.operands().iter().filter_map(|o| o.feature()) {
                if !computed.iter().any(|c| c == name) {
                    return Err(named(AlertRuleError::Condition {
                        text: rule.condition.to_string(),
                        why: format!(
                            "{name} is not a feature of {} {} (it has {}; bar fields: {})",
                            rule.symbol,
                            rule.timeframe,
                            computed.join(", "),
                            BarField::ALL.map(BarField::name).join(", ")
                        ),
                    }));
                }
            }
            len += 1;
            by_series
                .entry((rule.symbol.clone(), rule.timeframe))
                .or_default()
                .push(rule);
        }
        let depths = by_series
            .iter()
            .map(|(series, rules)| {
                let depth = rules.iter().map(|r| r.condition.lookback()).max();
                (series.clone(), depth.unwrap_or(0))
            })
            .collect();
        Ok(Self {
            by_series,
            depths,
            len,
        })
    }

    /// The rules of a series.
    #[must_use]
    pub fn of(&self, symbol: &Symbol, timeframe: Timeframe) -> &[AlertRule] {
        self.by_series
            .get(&(symbol.clone(), timeframe))
            .map_or(&[], Vec::as_slice)
    }

    /// How many closed points before the newest one a series' rules read (0 without rules).
    #[must_use]
    pub fn depth(&self, symbol: &Symbol, timeframe: Timeframe) -> usize {
        self.depths
            .get(&(symbol.clone(), timeframe))
            .copied()
            .unwrap_or(0)
    }

    /// How many rules.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True without rules.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every rule.
    pub fn iter(&self) -> impl Iterator<Item = &AlertRule> {
        self.by_series.values().flatten()
    }
}

/// One closed point kept for the rules.
#[derive(Debug, Clone)]
struct Kept {
    bar: Bar,
    values: BTreeMap<String, f64>,
}

#[derive(Debug, Default)]
struct SeriesState {
    /// The newest closed points, oldest first, at most `depth` + 1.
    points: VecDeque<Kept>,
    /// `once` rules that fired.
    done: HashSet<RuleId>,
}

/// Evaluates [`AlertRules`] on the points of each series as the feature engine computes
/// them: closed bars in order ([`closed`](AlertEvaluator::closed)), and the forming bar's
/// updates ([`forming`](AlertEvaluator::forming)) for the rules that ask for them. It keeps the
/// newest closed points of each series its rules read, nothing else: a rule looks up no value
/// the engine did not just give.
///
/// The alerts it returns have ids that do not depend on how often a bar was evaluated (see
/// [`AlertId`](axia_domain::AlertId)); whoever records them keeps one per id. A closed bar no
/// newer than the newest kept (a replay after a restart, a corrected bar) replaces the points
/// from its time on.
#[derive(Debug)]
pub struct AlertEvaluator {
    rules: AlertRules,
    series: HashMap<(Symbol, Timeframe), SeriesState>,
}

impl AlertEvaluator {
    /// An evaluator of `rules`, with no point kept yet.
    #[must_use]
    pub fn new(rules: AlertRules) -> Self {
        Self {
            rules,
            series: HashMap::new(),
        }
    }

    /// The rules.
    #[must_use]
    pub const fn rules(&self) -> &AlertRules {
        &self.rules
    }

    /// Keeps a closed point without evaluating anything: the points before the first one a
    /// series evaluates (its warm-up).
    pub fn prime(
        &mut self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: &Bar,
        values: &BTreeMap<String, f64>,
    ) {
        self.keep(symbol, timeframe, bar, values);
    }

    /// Keeps a closed point and returns the alerts its rules fire at it.
    pub fn closed(
        &mut self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: &Bar,
        values: &BTreeMap<String, f64>,
    ) -> Vec<Alert> {
        if !self.keep(symbol, timeframe, bar, values) {
            return Vec::new();
        }
        let Some(state) = self.series.get_mut(&(symbol.clone(), timeframe)) else {
            return Vec::new();
        };
        let points: Vec<AlertPoint<'_>> = state
            .points
            .iter()
            .map(|k| AlertPoint {
                bar: &k.bar,
                values: &k.values,
            })
            .collect();
        let mut fired = Vec::new();
        for rule in self.rules.of(symbol, timeframe) {
            if !rule.live_at(bar.time()) || state.done.contains(&rule.id) {
                continue;
            }
            if let Some(values) = rule.condition.holds(tail(&points, rule)) {
                if rule.frequency == axia_domain::Frequency::Once {
                    state.done.insert(rule.id.clone());
                }
                fired.push(rule.fire(bar, false, values));
            }
        }
        fired
    }

    /// The alerts the forming `bar` fires for the rules evaluated on forming updates
    /// ([`Frequency::OncePerBar`](axia_domain::Frequency::OncePerBar)); keeps nothing.
    #[must_use]
    pub fn forming(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: &Bar,
        values: &BTreeMap<String, f64>,
    ) -> Vec<Alert> {
        let rules = self.rules.of(symbol, timeframe);
        if !rules.iter().any(|r| r.frequency.on_forming()) {
            return Vec::new();
        }
        let mut points: Vec<AlertPoint<'_>> = self
            .series
            .get(&(symbol.clone(), timeframe))
            .map(|s| {
                s.points
                    .iter()
                    .filter(|k| k.bar.time() < bar.time())
                    .map(|k| AlertPoint {
                        bar: &k.bar,
                        values: &k.values,
                    })
                    .collect()
            })
            .unwrap_or_default();
        points.push(AlertPoint { bar, values });
        rules
            .iter()
            .filter(|r| r.frequency.on_forming() && r.live_at(bar.time()))
            .filter_map(|r| Some(r.fire(bar, true, r.condition.holds(tail(&points, r))?)))
            .collect()
    }

    /// Keeps a closed point; false when the series has no rule.
    fn keep(
        &mut self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: &Bar,
        values: &BTreeMap<String, f64>,
    ) -> bool {
        if self.rules.of(symbol, timeframe).is_empty() {
            return false;
        }
        let depth = self.rules.depth(symbol, timeframe);
        let state = self.series.entry((symbol.clone(), timeframe)).or_default();
        while state
            .points
            .back()
            .is_some_and(|k| k.bar.time() >= bar.time())
        {
            state.points.pop_back();
        }
        state.points.push_back(Kept {
            bar: *bar,
            values: values.clone(),
        });
        while state.points.len() > depth + 1 {
            state.points.pop_front();
        }
        true
    }
}

/// The points a rule reads: its lookback and the newest.
fn tail<'p, 'a>(points: &'p [AlertPoint<'a>], rule: &AlertRule) -> &'p [AlertPoint<'a>] {
    let keep = rule.condition.lookback() + 1;
    points
        .get(points.len().saturating_sub(keep)..)
        .unwrap_or(points)
}

#[cfg(test)]
mod tests {
    use axia_domain::Frequency;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    fn bar(m: i64, close: f64) -> Bar {
        Bar::new(t(m), close, close, close, close, 1.0).unwrap()
    }

    fn rule(id: &str, condition: &str, frequency: Frequency) -> AlertRule {
        let mut r = AlertRule::new(
            id.parse().unwrap(),
            "EURUSD".parse().unwrap(),
            Timeframe::M1,
            condition.parse().unwrap(),
        );
        r.frequency = frequency;
        r
    }

    fn evaluator(rules: Vec<AlertRule>) -> AlertEvaluator {
        AlertEvaluator::new(AlertRules::new(rules, &FeatureConfig::standard()).unwrap())
    }

    fn ids(alerts: &[Alert]) -> Vec<String> {
        alerts.iter().map(|a| a.id.to_string()).collect()
    }

    const NONE: BTreeMap<String, f64> = BTreeMap::new();

    #[test]
    fn closed_bars_fire_in_order_and_a_replay_fires_the_same_id() {
        let s = "EURUSD".parse().unwrap();
        let mut e = evaluator(vec![rule(
            "up",
            "crossing_up(close, 10)",
            Frequency::OncePerBarClose,
        )]);
        assert!(e.closed(&s, Timeframe::M1, &bar(0, 9.0), &NONE).is_empty());
        let fired = e.closed(&s, Timeframe::M1, &bar(1, 11.0), &NONE);
        assert_eq!(
            ids(&fired),
            vec![format!("up:1:{}", t(1).timestamp_millis())]
        );
        // The same bar again (a replay): the same alert, with the same points before it.
        assert_eq!(
            ids(&e.closed(&s, Timeframe::M1, &bar(1, 11.0), &NONE)),
            ids(&fired)
        );
        // A corrected older bar replaces the points from its time on.
        assert!(e.closed(&s, Timeframe::M1, &bar(1, 9.5), &NONE).is_empty());
        assert_eq!(e.closed(&s, Timeframe::M1, &bar(2, 12.0), &NONE).len(), 1);
        // Another series, another timeframe: no rule, nothing kept.
        assert!(e.closed(&s, Timeframe::M5, &bar(0, 11.0), &NONE).is_empty());
    }

    #[test]
    fn forming_updates_fire_only_once_per_bar_rules_and_keep_nothing() {
        let s = "EURUSD".parse().unwrap();
        let mut e = evaluator(vec![
            rule("bar", "crossing_up(close, 10)", Frequency::OncePerBar),
            rule(
                "close",
                "crossing_up(close, 10)",
                Frequency::OncePerBarClose,
            ),
        ]);
        e.prime(&s, Timeframe::M1, &bar(0, 9.0), &NONE);
        let fired = e.forming(&s, Timeframe::M1, &bar(1, 10.5), &NONE);
        assert_eq!(
            ids(&fired),
            vec![format!("bar:1:{}", t(1).timestamp_millis())]
        );
        assert!(fired[0].forming);
        // The bar closes below the level: no closed alert, the forming one stays fired (it
        // repaints, as documented); the previous point is still the primed one.
        assert!(e.closed(&s, Timeframe::M1, &bar(1, 9.8), &NONE).is_empty());
        let closed = e.closed(&s, Timeframe::M1, &bar(2, 10.2), &NONE);
        assert_eq!(closed.len(), 2);
        assert!(closed.iter().all(|a| !a.forming));
    }

    #[test]
    fn once_fires_once_and_expired_or_paused_rules_never() {
        let s = "EURUSD".parse().unwrap();
        let mut expired = rule("late", "close > 0", Frequency::OncePerBarClose);
        expired.expires_at = Some(t(2));
        let mut paused = rule("paused", "close > 0", Frequency::OncePerBarClose);
        paused.enabled = false;
        let mut e = evaluator(vec![
            rule("once", "close > 0", Frequency::Once),
            expired,
            paused,
        ]);
        let fired: Vec<Vec<String>> = (0..4)
            .map(|m| ids(&e.closed(&s, Timeframe::M1, &bar(m, 1.0), &NONE)))
            .collect();
        let at = |m: i64| format!("late:1:{}", t(m).timestamp_millis());
        assert_eq!(
            fired,
            vec![
                vec!["once:1:once".to_owned(), at(0)],
                vec![at(1)],
                vec![],
                vec![]
            ]
        );
    }

    #[test]
    fn the_points_kept_are_the_deepest_rule_s() {
        let s = "EURUSD".parse().unwrap();
        let rules = AlertRules::new(
            [
                rule("a", "close > 1", Frequency::OncePerBarClose),
                rule("b", "moving_up(close, 10, 3)", Frequency::OncePerBarClose),
            ],
            &FeatureConfig::standard(),
        )
        .unwrap();
        assert_eq!(rules.depth(&s, Timeframe::M1), 3);
        assert_eq!(rules.depth(&s, Timeframe::H1), 0);
        assert_eq!(rules.len(), 2);
        let mut e = AlertEvaluator::new(rules);
        for (m, c) in [(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0)] {
            e.closed(&s, Timeframe::M1, &bar(m, c), &NONE);
        }
        let fired = e.closed(&s, Timeframe::M1, &bar(5, 1.1), &NONE);
        assert_eq!(
            ids(&fired),
            vec![
                format!("a:1:{}", t(5).timestamp_millis()),
                format!("b:1:{}", t(5).timestamp_millis())
            ]
        );
        assert_eq!(e.series.values().next().unwrap().points.len(), 4);
    }
}
