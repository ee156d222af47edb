using NUnit.Framework;
using Ship.Cli;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>ship nir export / import: a checkpoint goes out as NIR and comes back with the same spikes; bad arguments and files are reported.</summary>
public class NirCliTests
{
    private static (int Code, string Out, string Err) Ship(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = ShipCli.Run(args, o, e, live: false);
        return (code, o.ToString(), e.ToString());
    }

    [Test]
    public void ExportThenImportReproducesTheSpikes()
    {
        using var dir = new TempDir();
        var net = new Network { Dt = 1e-3, Steps = 40, Seed = 2 };
        net.Add("in", new TensorInput(3));
        net.Add("w", new Dense(Init.Uniform(0, 1)), "in", "n");
        net.Add("n", new CubaLif(4, synapse: false, tauMem: 5e-3, threshold: 0.4));
        net.MarkOutput("n");
        var x = torch.rand(new long[] { 1, 40, 3 }, generator: new torch.Generator(9)).lt(0.4).to_type(ScalarType.Float32);
        var y = net.Run(x)["n"];
        new NetworkCheckpoint(new ModelRegistry()).Save(net, dir.File("cp"));

        var export = Ship("nir", "export", dir.File("cp"), dir.File("net.nir"));
        Assert.That(export.Code, Is.EqualTo(ShipCli.Ok), export.Err);
        Assert.That(File.Exists(dir.File("net.nir")), Is.True);
        var import = Ship("nir", "import", dir.File("net.nir"), "--dt", "1e-3", "--out", dir.File("back"), "--nodes-only");
        Assert.That(import.Code, Is.EqualTo(ShipCli.Ok), import.Err);
        var back = new NetworkCheckpoint(new ModelRegistry()).Load(dir.File("back"));
        var yb = back.Run(x)[back.Outputs[0]];
        Assert.That(y.sum().item<float>(), Is.GreaterThan(0));
        Assert.That(yb.eq(y).all().item<bool>(), Is.True);
    }

    [Test]
    public void BadArgumentsAndFilesAreReported()
    {
        using var dir = new TempDir();
        var noDt = Ship("nir", "import", "x.nir", "--out", dir.File("o"));
        Assert.That(noDt.Code, Is.EqualTo(ShipCli.BadUsage));
        var badDt = Ship("nir", "import", "x.nir", "--dt", "-1", "--out", dir.File("o"));
        Assert.That(badDt.Code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(badDt.Err, Does.Contain("--dt"));
        File.WriteAllText(dir.File("afile"), "x");
        var outIsFile = Ship("nir", "import", "x.nir", "--dt", "1e-3", "--out", dir.File("afile"));
        Assert.That(outIsFile.Code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(outIsFile.Err, Does.Contain("--out"));
        var missing = Ship("nir", "import", dir.File("missing.nir"), "--dt", "1e-3", "--out", dir.File("o"));
        Assert.That(missing.Code, Is.EqualTo(ShipCli.Failed));
        Assert.That(missing.Err, Does.Contain("missing.nir"));
        var noCheckpoint = Ship("nir", "export", dir.File("nothing"), dir.File("x.nir"));
        Assert.That(noCheckpoint.Code, Is.EqualTo(ShipCli.Failed));
        Assert.That(File.Exists(dir.File("x.nir")), Is.False, "nothing written on failure");
    }
}
