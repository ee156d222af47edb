using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// Step-by-step smoke test of the device path, printing after each stage so a crash can be located.
internal static class Diag
{
    public static void Case(Device device, int k)
    {
        void Say(string s) { Console.WriteLine($"case {k}: " + s); Console.Out.Flush(); }
        var g = new torch.Generator(0, device);
        var shape = new long[] { 8, 8 };
        switch (k)
        {
            case 1: Say($"{torch.rand(shape, dtype: ScalarType.Float32, device: device, generator: g).sum().item<float>()}"); break;
            case 2: Say($"{torch.rand(shape, dtype: ScalarType.Float32, device: device, generator: g).mul_(1.0).add_(0.0).sum().item<float>()}"); break;
            case 3:
                var t = torch.rand(shape, dtype: ScalarType.Float32, device: device, generator: g);
                using (var d = t.detach().to_type(ScalarType.Float64)) Say($"{d.min().item<double>()} {d.max().item<double>()} {d.isnan().any().item<bool>()}");
                break;
            case 4: Say($"{torch.rand(shape, device: device, generator: g).sum().item<float>()}"); break;
            case 5: Say($"{torch.rand(shape, dtype: ScalarType.Float32, device: device).sum().item<float>()}"); break;
            case 6: var ctx = new SimulationContext(2, device); var dn = new Dense(); dn.WithSizes(8, 8); dn.Bind(ctx); Say("dense bound"); break;
            case 7: var ctx2 = new SimulationContext(2, device); var dn2 = new Dense(torch.ones(8, 8, device: device)); dn2.WithSizes(8, 8); dn2.Bind(ctx2); Say("dense with given weights bound"); break;
            case 8: Say($"{torch.randn(shape, dtype: ScalarType.Float32, device: device, generator: g).sum().item<float>()}"); break;
        }
    }

    public static void Run(Device device)
    {
        void Say(string s) { Console.WriteLine("diag: " + s); Console.Out.Flush(); }
        Say($"cuda available {torch.cuda.is_available()}");
        var t = torch.ones(3, device: device); Say($"tensor on {t.device}");
        var g = new torch.Generator(1, device); Say("generator");
        var r = torch.rand(new long[] { 2, 2 }, device: device, generator: g); Say("rand with generator");
        var cpu = torch.ones(4); var span = cpu.bytes; Say($"host bytes {span.Length}");
        var sc = torch.tensor(0.5, dtype: ScalarType.Float32, device: device); Say("scalar tensor");
        using (var d = sc.detach().to_type(ScalarType.Float64)) { Say($"min {d.min().item<double>()}"); Say($"nan {d.isnan().any().item<bool>()}"); }
        var ctx = new SimulationContext(2, device); Say("context");
        var lif = new Lif(8); lif.Bind(ctx); Say("lif bound");
        lif.PrepareTimeStep(1e-3); Say("lif prepared");
        lif.ResetState(); Say("lif reset");
        var dense = new Dense(); dense.WithSizes(8, 8); dense.Bind(ctx); Say("dense bound");
        var inp = new TensorInput(8); inp.Bind(ctx); Say("input bound");
        foreach (var tb in new[] { false, true })
        {
            var net = new Network { Steps = 20, BatchSize = 2, Device = device, TimeBatching = tb };
            net.Add("I", new TensorInput(8));
            net.Add("S", new Dense(Init.Uniform(0, 1)), "I", "L");
            net.Add("L", new Lif(8));
            net.MarkOutput("L");
            net.Initialize(); Say($"init (timebatching {tb})");
            var x = torch.rand(new long[] { 2, 20, 8 }, device: device);
            var y = net.Run(x)["L"]; Say($"run no grad: {y.sum().item<float>()} seq=[{string.Join(',', net.SequenceGroups)}]");
            var w = net["S"].Variable("w");
            w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
            net.SpikeFunction = new SurrogateSpikes(); net.TrackGradients = true;
            var y2 = net.Run(x)["L"]; Say("run with grad");
            y2.sum().backward(); Say($"backward: grad sum {w.Value.grad!.sum().item<float>()}");
        }
    }
}
