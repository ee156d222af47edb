using System.Globalization;
using Ship.Bench;
using TorchSharp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var o = Options.Parse(args);
if (o.Device.type == DeviceType.CUDA) torch.InitializeDeviceType(DeviceType.CUDA);
torch.set_num_threads(o.Threads);
Console.WriteLine($"# Ship.NET bench, TorchSharp {typeof(torch).Assembly.GetName().Version}, device {o.Device}, threads {torch.get_num_threads()}, batch {o.Batch}, steps {o.Steps}");

if (o.Which is "A" or "all")
{
    Console.WriteLine("framework,N,forward_s,backward_s,gemm_s,peak_rss_mib,spike_rate,others_load");
    foreach (var n in o.Ns)
    {
        var r = BenchmarkA.Run(n, o);
        Console.WriteLine($"Ship.NET,{r.N},{r.ForwardS:F6},{r.BackwardS:F6},{r.GemmS:F6},{r.PeakMiB:F1},{r.SpikeRate:F4},{r.OthersLoad:F2}");
    }
}
