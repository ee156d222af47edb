using NUnit.Framework;
using System.Globalization;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>Paths of the NIR conformance data copied into the test output, CSV reading, and a run helper.</summary>
internal static class NirTestKit
{
    public static string Data(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Nir", "Data", name);

    /// <summary>Rows of a headerless CSV of numbers.</summary>
    public static double[][] Csv(string name) =>
        File.ReadAllLines(Data(name)).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    public static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>Steps (0-based) where a [1, T, 1] spike train is 1.</summary>
    public static int[] SpikeSteps(Tensor spikes) => D(spikes).Select((v, k) => (v, k)).Where(p => p.v > 0.5).Select(p => p.k).ToArray();

    /// <summary>Runs <paramref name="net"/> on <paramref name="input"/> and returns every output concatenated along components.</summary>
    public static Tensor RunAll(Network net, Tensor input)
    {
        var r = net.Run(input);
        return torch.cat(net.Outputs.Select(o => r[o]).ToArray(), 2);
    }
}
