using System.Runtime.InteropServices;
using TorchSharp;

namespace Ship.Core.Memory;

/// <summary>
/// The address of a tensor's first element, which TorchSharp 0.107 does not expose for device tensors: the kernel
/// launcher passes it to CUDA and the host buffers advise the kernel on it.
/// </summary>
internal static class NativeTensor
{
    /// <summary>Host or device address of the tensor's data (libtorch's <c>data_ptr</c>).</summary>
    public static IntPtr DataPointer(torch.Tensor t) => TensorData(t.Handle);

    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static extern IntPtr TensorData(IntPtr tensor);
}
