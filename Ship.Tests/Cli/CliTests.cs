using System.Text;
using NUnit.Framework;
using Ship.Cli;
using Ship.Nir;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Cli;

public class CliTests
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    private static (int Code, string Out, string Err) Ship(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = ShipCli.Run(args, o, e, live: false);
        return (code, o.ToString(), e.ToString());
    }

    [Test]
    public void QuickStudyWritesEveryPromisedFile()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ship-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (code, output, error) = Ship("--quick", "--nir", "--out", dir);
            clock.Stop();
            Assert.That(code, Is.EqualTo(0), error + output);
            Assert.That(clock.Elapsed.TotalSeconds, Is.LessThan(120), "the quick setting is meant for CI (< 60 s on an idle 2-core machine)");

            var figures = new[]
            {
                "training-curve", "training-curve-hw", "spike-raster-input", "spike-raster-hidden", "membrane-hidden", "membrane-output",
                "accuracy-vs-levels", "accuracy-vs-time", "device-rram-pulses", "device-rram-drift", "device-pcm-pulses", "device-pcm-drift",
            };
            foreach (var f in figures)
            {
                var png = File.ReadAllBytes(Path.Combine(dir, f + ".png"));
                Assert.That(png.Length, Is.GreaterThan(PngSignature.Length + 100), f);
                Assert.That(png.Take(8).ToArray(), Is.EqualTo(PngSignature), f + ".png signature");
                var svg = File.ReadAllText(Path.Combine(dir, f + ".svg"));
                Assert.That(svg, Does.Contain("<svg").And.Contain("</svg>"), f + ".svg");
                var csv = File.ReadAllLines(Path.Combine(dir, f + ".csv"));
                Assert.That(csv.Length, Is.GreaterThanOrEqualTo(2), f + ".csv has a header and data");
                Assert.That(csv[0].Split(',').Length, Is.GreaterThanOrEqualTo(2), f + ".csv header");
                Assert.That(csv[0].Any(char.IsLetter), Is.True, f + ".csv header names its columns");
            }

            // Levels CSV: a row per (network, level count) with the quick setting's counts.
            var levels = File.ReadAllLines(Path.Combine(dir, "accuracy-vs-levels.csv"));
            Assert.That(levels[0], Is.EqualTo("series,levels,mean,lower,upper,n"));
            Assert.That(levels.Length - 1, Is.EqualTo(2 * 3));
            // The quick setting still shows the study's point: at 4 levels hardware-aware training beats plain training
            // by more than the device-seed spread, and the output says so in words.
            double Mean(string series, int n) => double.Parse(levels.Single(l => l.StartsWith(series + ",") && l.Split(',')[1] == n.ToString()).Split(',')[2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(Mean("hardware-aware (4 levels)", 4), Is.GreaterThan(Mean("plain", 4) + 0.1), "hardware-aware beats plain on 4-level devices");
            Assert.That(output, Does.Contain("On 4-level devices").And.Contain("hardware-aware training wins"));

            var weights = SafeTensors.Read(Path.Combine(dir, "model.safetensors"));
            Assert.That(weights["in_hidden.w"].shape, Is.EqualTo(new long[] { 64, 64 }));
            Assert.That(weights["hidden_out.w"].shape, Is.EqualTo(new long[] { 64, 10 }));
            Assert.That(new FileInfo(Path.Combine(dir, "model-hw.safetensors")).Length, Is.GreaterThan(8));
            var settings = File.ReadAllText(Path.Combine(dir, "settings.json"));
            Assert.That(settings, Does.Contain("\"Hidden\": 64").And.Contain("\"Quick\": true"));
            Assert.That(new FileInfo(Path.Combine(dir, "results.json")).Length, Is.GreaterThan(0));
            var provenance = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "provenance.json"))).RootElement;
            Assert.That(provenance.GetProperty("command_line").EnumerateArray().Select(a => a.GetString()).ToArray(), Is.EqualTo(new[] { "ship", "--quick", "--nir", "--out", dir }),
                "provenance.json records the command line the study ran with");
            Assert.That(provenance.GetProperty("settings").GetProperty("Hidden").GetInt32(), Is.EqualTo(64));
            Assert.That(provenance.GetProperty("seeds").GetProperty("test_encoding").GetInt64(), Is.EqualTo(1001), "seed 1 + 1000 encodes the test set");

            var summary = File.ReadAllText(Path.Combine(dir, "summary.md"));
            var results = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
            double acc = results.RootElement.GetProperty("plain").GetProperty("TestAccuracy").GetDouble();
            Assert.That(summary, Does.Contain("Test accuracy: " + Study.Pct(acc)), "summary.md states the test accuracy");
            foreach (var f in figures) Assert.That(summary, Does.Contain($"]({f}.png)"), $"summary.md shows {f}");
            Assert.That(output, Does.Contain("test accuracy"));
            Assert.That(output, Does.Not.Contain("\u001b["), "no ANSI escapes when the output is not a terminal");

            // Hardware ledger (#14): the energy section, its two plots, and 'ship energy' on the saved study printing the same table.
            Assert.That(summary, Does.Contain("## Energy and operations per inference").And.Contain("Effective_ACs").And.Contain("rram on 1T1R"));
            foreach (var f in new[] { "energy-vs-levels", "energy-vs-activity" })
            {
                Assert.That(File.ReadAllBytes(Path.Combine(dir, f + ".png")).Take(8).ToArray(), Is.EqualTo(PngSignature), f);
                Assert.That(File.ReadAllText(Path.Combine(dir, f + ".svg")), Does.Contain("</svg>"), f);
                Assert.That(File.ReadAllLines(Path.Combine(dir, f + ".csv"))[0], Is.EqualTo("platform,x,energy_J"), f);
                Assert.That(summary, Does.Contain($"]({f}.png)"), f);
            }
            // FP32, INT8 and loihi plus the two presets, at the quick setting's 3 level counts.
            Assert.That(File.ReadAllLines(Path.Combine(dir, "energy-vs-levels.csv")).Length - 1, Is.EqualTo(5 * 3));
            var (ecode, eout, eerr) = Ship("energy", dir);
            Assert.That(ecode, Is.EqualTo(0), eerr);
            var fp32 = summary.Split('\n').First(l => l.StartsWith("| CMOS 45 nm FP32 |", StringComparison.Ordinal));
            Assert.That(eout, Does.Contain(fp32), "the same counts from the saved network as in the study");
            // Programming energy (#14, devwrites): program-and-verify of both matrices (2 devices per weight on both presets).
            foreach (var preset in new[] { "rram", "pcm" })
            {
                var row = summary.Split('\n').First(l => l.StartsWith($"| {preset} | {2 * (64 * 64 + 64 * 10)} |", StringComparison.Ordinal));
                Assert.That(eout, Does.Contain(row), $"{preset}: 'ship energy' programs the saved network the same way");
                TestContext.Out.WriteLine(row);
            }

            // --nir (#17): model.nir and model-hw.nir hold the trained weights and import back as the trained networks.
            AssertNirImportsBack(dir, "model");
            AssertNirImportsBack(dir, "model-hw");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    // The reference is the study's network rebuilt from <name>.safetensors (written by another path than the NIR export).
    private static void AssertNirImportsBack(string dir, string name)
    {
        var settings = StudySettings.QuickDefaults;
        var saved = SafeTensors.Read(Path.Combine(dir, name + ".safetensors"));
        var doc = NirFile.Read(Path.Combine(dir, name + ".nir"));
        Assert.That(((NirArray)doc.Root.Metadata["dt"]).Data, Is.EqualTo(new[] { settings.Dt }), name + ".nir records dt");
        foreach (var tag in new[] { StudyModel.InHidden, StudyModel.HiddenOut })
        {
            // NIR stores [out, in]; Ship.NET's saved weights are [in, out].
            var w = saved[tag + ".w"];
            var nir = (NirArray)doc.Root.Node(tag)!.Values["weight"];
            Assert.That(nir.Shape, Is.EqualTo(new[] { w.shape[1], w.shape[0] }), $"{name}.nir {tag} shape");
            var expected = w.t().contiguous().to_type(ScalarType.Float64).data<double>().ToArray();
            Assert.That(nir.Data, Is.EqualTo(expected), $"{name}.nir {tag} holds the trained weights");
        }

        var original = new StudyModel(settings, (int)saved[StudyModel.InHidden + ".w"].shape[0], (int)saved[StudyModel.HiddenOut + ".w"].shape[1])
            .Build(1, saved.ToDictionary(p => p.Key[..^2], p => p.Value));
        var x = torch.rand(new long[] { 1, settings.Steps, original[StudyModel.Input].ComponentCount }, generator: new torch.Generator(3)).lt(0.3).to_type(ScalarType.Float32);
        var y = original.Run(x)[StudyModel.Output];
        Assert.That(y.abs().sum().item<float>(), Is.GreaterThan(0), "the input drives the output membranes");
        var back = NirGraph.Read(Path.Combine(dir, name + ".nir"), settings.Dt);
        Assert.That(back.Run(x)[StudyModel.Output].eq(y).all().item<bool>(), Is.True, name + ".nir imports as the trained network");
        // From the NIR nodes alone (what another simulator sees) it imports and runs with the same output size.
        var nodes = NirGraph.Read(Path.Combine(dir, name + ".nir"), settings.Dt, new NirImportOptions { UseShipMetadata = false });
        var yn = nodes.Run(x)[nodes.Outputs.Single()];
        Assert.That(yn.shape, Is.EqualTo(y.shape));
        Assert.That(yn.isfinite().all().item<bool>(), Is.True);
    }

    [Test]
    public void EnergyOfAFolderWithoutAStudyIsAClearError()
    {
        var (code, _, error) = Ship("energy", Path.Combine(Path.GetTempPath(), "ship-never-" + Guid.NewGuid().ToString("N")));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("settings.json").And.Contain("FOLDER"));
    }

    [TestCase("--levels", "1,4")]
    [TestCase("--levels", "four")]
    [TestCase("--times", "0,10")]
    [TestCase("--device-preset", "flash")]
    [TestCase("--hidden", "0")]
    [TestCase("--dataset", "idx:/no/such/folder")]
    [TestCase("--device", "tpu")]
    [TestCase("--no-such-option", "1")]
    [TestCase("--epochs", "many")]
    [TestCase("--hidden", "abc")]
    [TestCase("--lr", "fast")]
    [TestCase("--seed", "x")]
    [TestCase("--max-rate", "1e3Hz")]
    public void BadOptionsExitWithCodeTwoAndAClearMessage(string option, string value)
    {
        var never = Path.Combine(Path.GetTempPath(), "ship-never-" + Guid.NewGuid().ToString("N"));
        var (code, output, error) = Ship(option, value, "--out", never);
        Assert.That(code, Is.EqualTo(2), output + error);
        Assert.That(error, Does.Contain(option), "the message names the option");
        Assert.That(error, Does.Contain("--help"));
        Assert.That(error, Does.Not.Contain("System."), "no .NET type names");
        Assert.That(Directory.Exists(never), Is.False, "nothing is written for a bad command line");
    }

    [Test]
    public void OutOntoAFileIsAUsageErrorNamingOut()
    {
        var file = Path.Combine(Path.GetTempPath(), "ship-out-file-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "not a folder");
        try
        {
            foreach (var args in new[] { new[] { "--out", file }, new[] { "--out", Path.Combine(file, "below") }, new[] { "compare", "--out", file } })
            {
                var (code, output, error) = Ship(args);
                Assert.That(code, Is.EqualTo(2), string.Join(" ", args) + ": " + output + error);
                Assert.That(error, Does.Contain("--out"), "names the option");
                Assert.That(error, Does.Contain(file), "and the file in the way");
            }
            var merge = Ship("merge", Path.GetTempPath(), "--out", file);
            Assert.That(merge.Code, Is.EqualTo(2), merge.Err);
            Assert.That(merge.Err, Does.Contain("--out"));
            Assert.That(File.ReadAllText(file), Is.EqualTo("not a folder"), "the file is left alone");
        }
        finally { File.Delete(file); }
    }

    [Test]
    public void ParserMessagesNameTheOptionNotTheType()
    {
        Assert.That(ShipCli.Readable("Cannot parse argument 'abc' for option '--hidden' as expected type 'System.Nullable`1[System.Int32]'."),
            Is.EqualTo("--hidden: 'abc' is not a whole number."));
        Assert.That(ShipCli.Readable("Cannot parse argument 'x' for option '--lr' as expected type 'System.Nullable`1[System.Double]'."),
            Does.StartWith("--lr: 'x' is not a number"));
        Assert.That(ShipCli.Readable("Unrecognized command or argument '--bogus'."), Is.EqualTo("Unrecognized command or argument '--bogus'."));
    }

    [Test]
    public void CudaOnTheCpuBuildIsRefusedWithTheReasonNotACrash()
    {
        // The tests run on TorchSharp-cpu: initializing CUDA must fail, and the CLI must say so as a usage error.
        var (code, output, error) = Ship("--device", "cuda", "--quick", "--out", Path.Combine(Path.GetTempPath(), "ship-never-" + Guid.NewGuid().ToString("N")));
        Assert.That(code, Is.EqualTo(2), output + error);
        Assert.That(error, Does.Contain("--device cuda"));
        Assert.That(error, Does.Contain("CUDA"));
        Assert.That(error.Split('\n').Length, Is.LessThan(5), "one line of reason, not a native stack trace");
    }

    [Test]
    public void HelpExplainsEveryOption()
    {
        var (code, output, _) = Ship("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (var o in new[] { "--dataset", "--hidden", "--steps", "--epochs", "--device-preset", "--levels", "--times", "--seeds", "--device", "--out", "--quick" })
            Assert.That(output, Does.Contain(o), o);
        Assert.That(output, Does.Contain("compare"));
    }

    [Test]
    public void SafetensorsRoundTripAndLayout()
    {
        var path = Path.GetTempFileName();
        try
        {
            var a = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
            var b = torch.tensor(new[] { -1.5f });
            SafeTensors.Write(path, new Dictionary<string, torch.Tensor> { ["b"] = b, ["a"] = a }, new Dictionary<string, string> { ["k"] = "v" });
            var bytes = File.ReadAllBytes(path);
            ulong n = BitConverter.ToUInt64(bytes, 0);
            Assert.That(n % 8, Is.EqualTo(0UL), "header padded to 8 bytes");
            Assert.That((long)(8 + n + 4 * 7), Is.EqualTo(bytes.LongLength), "header then 7 float32 values");
            var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
            Assert.That(header, Does.Contain("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"));
            Assert.That(header, Does.Contain("\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}"));
            Assert.That(BitConverter.ToSingle(bytes, (int)(8 + n + 24)), Is.EqualTo(-1.5f), "little-endian raw data in header order");
            var back = SafeTensors.Read(path);
            Assert.That(back["a"].data<float>().ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
            Assert.That(back["b"].data<float>().ToArray(), Is.EqualTo(new[] { -1.5f }));
        }
        finally { File.Delete(path); }
    }
}
