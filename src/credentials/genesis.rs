//! The few genesis parameters that turn wall time into a KES period, with presets for the public
//! networks.
//!
//! A KES period is `absolute slot / slots_per_kes_period`, and the absolute slot counts Byron slots
//! too. Networks that started in Byron (mainnet, preprod) had 20 s slots until the Shelley hard fork
//! and 1 s slots after it, so the slot at a given time is not a plain division from `system_start`.

use std::time::Duration;

use jiff::Timestamp;

/// A public Cardano network with a built-in [`Genesis`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Mainnet.
    Mainnet,
    /// The pre-production testnet.
    Preprod,
    /// The preview testnet.
    Preview,
}

impl Network {
    /// The network's name as used in resource names and flags.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Preprod => "preprod",
            Network::Preview => "preview",
        }
    }

    /// The network's genesis parameters.
    pub fn genesis(self) -> Genesis {
        match self {
            Network::Mainnet => Genesis::MAINNET,
            Network::Preprod => Genesis::PREPROD,
            Network::Preview => Genesis::PREVIEW,
        }
    }
}

/// What it takes to compute the current KES period of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// Byron genesis `startTime`: the beginning of slot 0.
    pub system_start: Timestamp,
    /// Number of Byron slots before the Shelley hard fork (0 when the chain starts in Shelley).
    pub byron_slots: u64,
    /// Length of a Byron slot (20 s on every public network).
    pub byron_slot_length: Duration,
    /// Length of a slot from the Shelley hard fork on (Shelley genesis `slotLength`).
    pub slot_length: Duration,
    /// Shelley genesis `slotsPerKESPeriod`.
    pub slots_per_kes_period: u64,
    /// Shelley genesis `maxKESEvolutions`: how many periods an operational certificate is valid for.
    pub max_kes_evolutions: u64,
}

/// Unix seconds of a preset's `system_start`; `Timestamp::constant` keeps the presets `const`.
const fn unix(seconds: i64) -> Timestamp {
    Timestamp::constant(seconds, 0)
}

impl Genesis {
    /// Mainnet: Byron from 2017-09-23T21:44:51Z with 20 s slots; Shelley from epoch 208 (absolute
    /// slot 4 492 800 = 208 × 21 600, 2020-07-29T21:44:51Z) with 1 s slots.
    pub const MAINNET: Genesis = Genesis {
        system_start: unix(1_506_203_091),
        byron_slots: 4_492_800,
        byron_slot_length: Duration::from_secs(20),
        slot_length: Duration::from_secs(1),
        slots_per_kes_period: 129_600,
        max_kes_evolutions: 62,
    };

    /// Preprod: Byron from 2022-06-01T00:00:00Z for 4 epochs of 21 600 slots of 20 s; Shelley from
    /// absolute slot 86 400 (2022-06-21T00:00:00Z) with 1 s slots.
    pub const PREPROD: Genesis = Genesis {
        system_start: unix(1_654_041_600),
        byron_slots: 86_400,
        byron_slot_length: Duration::from_secs(20),
        slot_length: Duration::from_secs(1),
        slots_per_kes_period: 129_600,
        max_kes_evolutions: 62,
    };

    /// Preview: no Byron slots (hard forks at epoch 0), 1 s slots from 2022-10-25T00:00:00Z.
    pub const PREVIEW: Genesis = Genesis {
        system_start: unix(1_666_656_000),
        byron_slots: 0,
        byron_slot_length: Duration::from_secs(20),
        slot_length: Duration::from_secs(1),
        slots_per_kes_period: 129_600,
        max_kes_evolutions: 62,
    };

    /// Reads the fields a KES period needs from a Shelley genesis file (`systemStart`, `slotLength`,
    /// `slotsPerKESPeriod`, `maxKESEvolutions`), for networks without a preset. The Shelley genesis
    /// does not say when Byron ended, so `byron_slots` (slots before the Shelley hard fork; 0 for a
    /// chain that starts in Shelley) comes from the caller; Byron slots are taken to be 20 s.
    pub fn from_shelley_genesis(json: &[u8], byron_slots: u64) -> Result<Genesis, GenesisError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Shelley {
            system_start: Timestamp,
            slot_length: f64,
            #[serde(rename = "slotsPerKESPeriod")]
            slots_per_kes_period: u64,
            #[serde(rename = "maxKESEvolutions")]
            max_kes_evolutions: u64,
        }
        let g: Shelley = serde_json::from_slice(json).map_err(GenesisError::Parse)?;
        let slot_length = Duration::try_from_secs_f64(g.slot_length)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or(GenesisError::SlotLength(g.slot_length))?;
        if g.slots_per_kes_period == 0 || g.max_kes_evolutions == 0 {
            return Err(GenesisError::ZeroKesParameter);
        }
        Ok(Genesis {
            system_start: g.system_start,
            byron_slots,
            byron_slot_length: Duration::from_secs(20),
            slot_length,
            slots_per_kes_period: g.slots_per_kes_period,
            max_kes_evolutions: g.max_kes_evolutions,
        })
    }

    /// The absolute slot at `now`, or `None` before `system_start`.
    pub fn slot_at(&self, now: Timestamp) -> Option<u64> {
        let elapsed = now.duration_since(self.system_start);
        if elapsed.is_negative() {
            return None;
        }
        // Nanoseconds in u128: no overflow for any timestamp jiff can represent.
        let elapsed_ns = u128::try_from(elapsed.as_nanos()).ok()?;
        let byron_ns = self.byron_slot_length.as_nanos().max(1);
        let shelley_ns = self.slot_length.as_nanos().max(1);
        let byron_total_ns = u128::from(self.byron_slots) * byron_ns;
        let slot = if elapsed_ns < byron_total_ns {
            elapsed_ns / byron_ns
        } else {
            u128::from(self.byron_slots) + (elapsed_ns - byron_total_ns) / shelley_ns
        };
        u64::try_from(slot).ok()
    }

    /// The KES period containing `slot`.
    pub fn kes_period_of_slot(&self, slot: u64) -> u64 {
        slot / self.slots_per_kes_period.max(1)
    }
}

/// Why a Shelley genesis file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Not JSON, or a needed field is missing or of the wrong type.
    #[error("reading the Shelley genesis: {0}")]
    Parse(#[source] serde_json::Error),
    /// `slotLength` is not a positive number of seconds.
    #[error("slotLength {0} is not a positive number of seconds")]
    SlotLength(f64),
    /// `slotsPerKESPeriod` or `maxKESEvolutions` is zero.
    #[error("slotsPerKESPeriod and maxKESEvolutions must be positive")]
    ZeroKesParameter,
}

/// The KES period at wall time `now` (0 before the network started).
pub fn current_kes_period(genesis: &Genesis, now: Timestamp) -> u64 {
    genesis
        .slot_at(now)
        .map_or(0, |slot| genesis.kes_period_of_slot(slot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_presets_start_when_the_networks_did() {
        assert_eq!(Genesis::MAINNET.system_start, at("2017-09-23T21:44:51Z"));
        assert_eq!(Genesis::PREPROD.system_start, at("2022-06-01T00:00:00Z"));
        assert_eq!(Genesis::PREVIEW.system_start, at("2022-10-25T00:00:00Z"));
    }

    #[test]
    fn mainnet_shelley_begins_at_slot_4492800_on_2020_07_29() {
        let g = Genesis::MAINNET;
        assert_eq!(g.slot_at(at("2020-07-29T21:44:51Z")), Some(4_492_800));
        assert_eq!(g.slot_at(at("2020-07-29T21:44:50Z")), Some(4_492_799));
        assert_eq!(g.slot_at(at("2020-07-29T21:44:31Z")), Some(4_492_799));
        assert_eq!(g.slot_at(at("2020-07-29T21:44:30Z")), Some(4_492_798));
        assert_eq!(g.slot_at(at("2020-07-29T21:44:52Z")), Some(4_492_801));
        assert_eq!(current_kes_period(&g, at("2020-07-29T21:44:51Z")), 34);
    }

    #[test]
    fn mainnet_epoch_500_starts_at_slot_130636800_in_kes_period_1008() {
        // Epoch n >= 208 starts at slot 4_492_800 + (n - 208) * 432_000, five days apart.
        let g = Genesis::MAINNET;
        let start = at("2024-07-28T21:44:51Z");
        assert_eq!(g.slot_at(start), Some(130_636_800));
        assert_eq!(current_kes_period(&g, start), 1008);
        assert_eq!(current_kes_period(&g, at("2020-07-29T21:44:51Z")), 34);
    }

    #[test]
    fn mainnet_kes_periods_turn_every_36_hours() {
        let g = Genesis::MAINNET;
        // Period 35 starts at slot 35 * 129_600 = 4_536_000, i.e. 43_200 s after the hard fork.
        assert_eq!(current_kes_period(&g, at("2020-07-30T09:44:50Z")), 34);
        assert_eq!(current_kes_period(&g, at("2020-07-30T09:44:51Z")), 35);
        assert_eq!(current_kes_period(&g, at("2020-07-31T21:44:50Z")), 35);
        assert_eq!(current_kes_period(&g, at("2020-07-31T21:44:51Z")), 36);
    }

    #[test]
    fn preprod_shelley_begins_at_slot_86400_on_2022_06_21() {
        let g = Genesis::PREPROD;
        assert_eq!(g.slot_at(at("2022-06-21T00:00:00Z")), Some(86_400));
        assert_eq!(g.slot_at(at("2022-06-20T23:59:40Z")), Some(86_399));
        assert_eq!(g.slot_at(at("2022-06-21T00:00:01Z")), Some(86_401));
        // 2024-01-01T00:00:00Z is 559 days (48_297_600 s) after the hard fork.
        assert_eq!(
            g.slot_at(at("2024-01-01T00:00:00Z")),
            Some(86_400 + 48_297_600)
        );
        assert_eq!(current_kes_period(&g, at("2024-01-01T00:00:00Z")), 373);
    }

    #[test]
    fn preview_slots_are_seconds_since_its_start() {
        let g = Genesis::PREVIEW;
        assert_eq!(g.slot_at(at("2022-10-25T00:00:00Z")), Some(0));
        assert_eq!(g.slot_at(at("2022-10-26T00:00:00Z")), Some(86_400));
        assert_eq!(current_kes_period(&g, at("2022-10-26T12:00:00Z")), 1);
        assert_eq!(current_kes_period(&g, at("2022-10-26T11:59:59Z")), 0);
    }

    #[test]
    fn a_shelley_genesis_file_gives_the_same_parameters_as_the_preset() {
        // The relevant fields of mainnet's shelley-genesis.json.
        let json = br#"{"activeSlotsCoeff": 0.05, "epochLength": 432000,
            "maxKESEvolutions": 62, "networkMagic": 764824073, "slotLength": 1,
            "slotsPerKESPeriod": 129600, "systemStart": "2017-09-23T21:44:51Z"}"#;
        let g = Genesis::from_shelley_genesis(json, 4_492_800).expect("parses");
        assert_eq!(g, Genesis::MAINNET);
        assert!(matches!(
            Genesis::from_shelley_genesis(br#"{"slotLength": 0}"#, 0),
            Err(GenesisError::Parse(_))
        ));
    }

    #[test]
    fn before_the_start_there_is_no_slot_and_period_zero() {
        let g = Genesis::PREVIEW;
        assert_eq!(g.slot_at(at("2022-10-24T23:59:59Z")), None);
        assert_eq!(current_kes_period(&g, at("2000-01-01T00:00:00Z")), 0);
    }
}
