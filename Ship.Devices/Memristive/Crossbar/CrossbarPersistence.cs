using Ship.Core.Persistence;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>Writes and reads <see cref="CrossbarSettings"/> as one checkpoint node (every field, units as in the records).</summary>
public static class CrossbarPersistence
{
    /// <summary>Writes <paramref name="s"/> into <paramref name="w"/>.</summary>
    public static void Write(CrossbarSettings s, CheckpointWriter w)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(w);
        w.Set("tile_rows", s.Tile.Rows);
        w.Set("tile_columns", s.Tile.Columns);
        w.SetEnum("array_type", s.ArrayType);
        w.Set("read_voltage", s.Read.Voltage);
        w.Set("read_width", s.Read.Width);
        w.Set("has_dac", s.Dac is not null);
        if (s.Dac is { } d)
        {
            w.Set("dac_bits", d.Bits);
            w.Set("dac_min", d.Min);
            w.Set("dac_max", d.Max);
        }
        w.Set("has_adc", s.Adc is not null);
        if (s.Adc is { } a)
        {
            w.Set("adc_bits", a.Bits);
            w.Set("adc_full_scale", a.FullScale);
            w.Set("adc_noise_sigma", a.NoiseSigma);
            w.Set("adc_columns_per_adc", a.ColumnsPerAdc);
        }
        w.Set("current_mode_capacitance", s.CurrentMode?.Capacitance);
        w.Set("word_line", s.Lines.WordLine);
        w.Set("bit_line", s.Lines.BitLine);
        w.Set("driver", s.Lines.Driver);
        w.Set("sense", s.Lines.Sense);
        w.SetEnum("ir_drop", s.IrDrop);
        w.Set("tolerance", s.Tolerance);
    }

    /// <summary>Reads what <see cref="Write"/> wrote.</summary>
    public static CrossbarSettings Read(CheckpointReader x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new CrossbarSettings
        {
            Tile = new TileSize(x.GetInt("tile_rows"), x.GetInt("tile_columns")),
            ArrayType = x.GetEnum<ArrayType>("array_type"),
            Read = new ReadPulse(x.GetDouble("read_voltage"), x.GetDouble("read_width")),
            Dac = x.GetBool("has_dac") ? new DacSettings(x.GetInt("dac_bits"), x.GetDouble("dac_min"), x.GetDouble("dac_max")) : null,
            Adc = x.GetBool("has_adc")
                ? new AdcSettings(x.GetInt("adc_bits"), x.GetNullableDouble("adc_full_scale"), x.GetDouble("adc_noise_sigma"), x.GetInt("adc_columns_per_adc"))
                : null,
            CurrentMode = x.GetNullableDouble("current_mode_capacitance") is { } c ? new CurrentModeSettings(c) : null,
            Lines = new LineResistances(x.GetDouble("word_line"), x.GetDouble("bit_line"), x.GetDouble("driver"), x.GetDouble("sense")),
            IrDrop = x.GetEnum<IrDropModel>("ir_drop"),
            Tolerance = x.GetDouble("tolerance"),
        };
    }
}
