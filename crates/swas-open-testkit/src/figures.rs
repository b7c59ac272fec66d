//! Measurements taken in rounds, summed up as min / median / max: the figures the clients'
//! loopback benches print.

/// The minimum, median and maximum of `values`, which it sorts. Panics when empty.
pub fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

/// `N` named series, one value each per round.
#[derive(Debug, Clone)]
pub struct Figures<const N: usize> {
    labels: [&'static str; N],
    series: [Vec<f64>; N],
}

impl<const N: usize> Figures<N> {
    /// Empty series with these labels.
    pub fn new(labels: [&'static str; N]) -> Self {
        Self {
            labels,
            series: std::array::from_fn(|_| Vec::new()),
        }
    }

    /// One round: a value for each series, in the order of the labels.
    pub fn push(&mut self, round: [f64; N]) {
        for (series, value) in self.series.iter_mut().zip(round) {
            series.push(value);
        }
    }

    /// Each label with the [`spread`] of its series.
    pub fn spreads(&mut self) -> impl Iterator<Item = (&'static str, (f64, f64, f64))> + '_ {
        self.labels
            .into_iter()
            .zip(self.series.iter_mut().map(|series| spread(series)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max() {
        assert_eq!(spread(&mut [3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(spread(&mut [5.0]), (5.0, 5.0, 5.0));
        assert_eq!(spread(&mut [4.0, 1.0, 3.0, 2.0]), (1.0, 3.0, 4.0));
    }

    #[test]
    fn figures_keep_each_series_apart() {
        let mut figures = Figures::new(["a", "b"]);
        figures.push([1.0, 10.0]);
        figures.push([3.0, 30.0]);
        figures.push([2.0, 20.0]);
        let spreads: Vec<_> = figures.spreads().collect();
        assert_eq!(spreads, [("a", (1.0, 2.0, 3.0)), ("b", (10.0, 20.0, 30.0))]);
    }
}
