#:project ../../Ship.Core/Ship.Core.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Writes the synthetic "lab measurements" of examples/data (the files docs/measured-devices.md fits), from a fixed seed,
// with plain closed forms (no Ship.NET API is called, so the fit has something independent to recover; the Ship.Core
// reference only keeps the common example settings):
//  - measured-pulses.csv: 8 devices × 4 cycles of 40 potentiation then 40 depression pulses, NeuroSim-style update
//    G(P) = Gmin + B(1 − e^(−P/A)) with A⁺ = 12, A⁻ = 8 pulses, P_max = 32 pulses per direction, window 20–100 µS,
//    10 % device-to-device spread of the window's top, 3 % cycle-to-cycle noise on each step, 0.2 µS read noise;
//  - measured-retention.csv: the same 8 devices programmed to 30, 50, 70, 90 µS, read at 16 times from 1 s to 10^5 s,
//    power-law drift G0·t^(−ν) with ν ~ N(0.04, 0.008) per device and level, 0.3 % read noise;
//  - measured-read-noise.csv: 8 devices, 50 repeated reads each at 60 µS with 0.5 % relative noise;
//  - measured-cycling.csv (endurance): 40 devices read in both states (high/low) at 24 log-spaced cycle counts from 1 to
//    3·10^5; fresh window 20–100 µS (2 % device spread), narrowing W(n) = W0 / (1 + (n/N½)^β) with N½ = 10^5 cycles,
//    β = 2, closing towards 20 + 0.3·80 = 44 µS; each device fails after a Weibull lifetime (η = 2·10^5 cycles, k = 1.5),
//    then reads stuck at its fresh high or low level (half each); 0.3 µS read noise. Its own seed, so the other files
//    do not change with it.
// Units: µS in the headers (conductance_uS), seconds for time.
//
//   dotnet run examples/data/make-measured-device.cs [-- <folder>]     (from the repository root; default examples/data)

using System.Globalization;

var dir = Path.GetFullPath(args.Length > 0 ? args[0] : "examples/data");
Directory.CreateDirectory(dir);
var rng = new Random(20261206);
double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);

const double gMin = 20, gMax = 100, aUp = 12, aDown = 8, pMax = 32;
var pulses = new List<string> { "device,cycle,pulse,polarity,conductance_uS" };
for (int d = 0; d < 8; d++)
{
    double top = gMin + (gMax - gMin) * (1 + 0.10 * Gauss());
    double bUp = (top - gMin) / (1 - Math.Exp(-pMax / aUp)), bDown = (top - gMin) / (1 - Math.Exp(-pMax / aDown));
    double g = gMin;
    for (int c = 0; c < 4; c++)
    {
        for (int p = 0; p <= 40; p++)
        {
            pulses.Add($"dev{d},{c},{p},up,{F(g + 0.2 * Gauss())}");
            double step = (gMin + bUp - g) * (1 - Math.Exp(-1 / aUp)) * (1 + 0.03 * Gauss());
            g = Math.Min(g + step, top);
        }
        g = top;
        for (int p = 0; p <= 40; p++)
        {
            pulses.Add($"dev{d},{c},{p},down,{F(g + 0.2 * Gauss())}");
            double step = (g - top + bDown) * (1 - Math.Exp(-1 / aDown)) * (1 + 0.03 * Gauss());
            g = Math.Max(g - step, gMin);
        }
        g = gMin;
    }
}
File.WriteAllLines(Path.Combine(dir, "measured-pulses.csv"), pulses);

var retention = new List<string> { "device,level_uS,time_s,conductance_uS" };
for (int d = 0; d < 8; d++)
    foreach (var level in new[] { 30.0, 50, 70, 90 })
    {
        double nu = Math.Abs(0.04 + 0.008 * Gauss());
        for (int i = 0; i < 16; i++)
        {
            double t = Math.Pow(10, 5.0 * i / 15);
            retention.Add($"dev{d},{F(level)},{F(t)},{F(level * Math.Pow(t, -nu) * (1 + 0.003 * Gauss()))}");
        }
    }
File.WriteAllLines(Path.Combine(dir, "measured-retention.csv"), retention);

var noise = new List<string> { "device,read,conductance_uS" };
for (int d = 0; d < 8; d++)
    for (int r = 0; r < 50; r++) noise.Add($"dev{d},{r},{F(60 * (1 + 0.005 * Gauss()))}");
File.WriteAllLines(Path.Combine(dir, "measured-read-noise.csv"), noise);
var crng = new Random(20261207);
double CGauss() => Math.Sqrt(-2 * Math.Log(1 - crng.NextDouble())) * Math.Cos(2 * Math.PI * crng.NextDouble());
var cycling = new List<string> { "device,cycle,state,conductance_uS" };
var counts = Enumerable.Range(0, 24).Select(i => (long)Math.Round(Math.Pow(10, Math.Log10(3e5) * i / 23))).ToArray();
for (int d = 0; d < 40; d++)
{
    double low0 = 20 * (1 + 0.02 * CGauss()), high0 = 100 * (1 + 0.02 * CGauss());
    double life = 2e5 * Math.Pow(-Math.Log(1 - crng.NextDouble()), 1 / 1.5);
    bool stuckHigh = crng.NextDouble() < 0.5;
    double gc = low0 + 0.3 * (high0 - low0);
    foreach (long n in counts)
    {
        double f = 1 / (1 + Math.Pow(n / 1e5, 2));
        double hi = n >= life ? (stuckHigh ? high0 : low0) : gc + (high0 - gc) * f;
        double lo = n >= life ? (stuckHigh ? high0 : low0) : gc + (low0 - gc) * f;
        cycling.Add($"dev{d},{n},high,{F(hi + 0.3 * CGauss())}");
        cycling.Add($"dev{d},{n},low,{F(lo + 0.3 * CGauss())}");
    }
}
File.WriteAllLines(Path.Combine(dir, "measured-cycling.csv"), cycling);
Console.WriteLine($"wrote measured-pulses.csv ({pulses.Count - 1} reads), measured-retention.csv ({retention.Count - 1}), measured-read-noise.csv ({noise.Count - 1}), measured-cycling.csv ({cycling.Count - 1}) to {dir}");
